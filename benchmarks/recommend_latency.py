"""Latency of the collaborative recommenders, in process: one user per call, and batches.

Target (issue "Recommenders and the evaluation that proves them"): recommending for one user
≤ 5 ms p99 for item-kNN. Each model is fitted (default parameters) on the DESIGN §5 training
users of the workspace; the calls use the test users' histories, cycled: ``--calls`` calls of
``recommend([history], k=10)`` (seen items excluded, reasons included), after 50 warm-up calls.
Batch throughput is ``recommend`` over all test users in batches of ``--batch``. BLAS and OpenMP
run on ``--threads`` threads (default 1: a one-user product gains nothing from more, and on a busy
machine spinning BLAS/OpenMP threads dominate the tail — ALS folding a user in took 28 ms instead
of 1.5 ms with the default pools under load).

    python benchmarks/recommend_latency.py --workspace WS [--models popularity,itemknn,userknn,ease,als]
        [--calls 1000] [--batch 256] [--threads 1]

Content and hybrid (``--models itemknn,content,hybrid``) read the catalog's embeddings from WS's
cache and their tuning from ``WS/tuning``; the hybrid learns its fusion weights on validation
users the first time and takes them from ``WS/tuning/hybrid-fusion.json`` afterwards.

Prints one line per model: fit seconds; p50/p99/max wall ms per single-user call and p50/p99 of
the call's CPU time (the calling thread's, which other jobs on a busy machine do not inflate);
batch users/s; and the wall p99 ratio to popularity (the cheapest model, in the same run).
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workspace", "-w", required=True)
    ap.add_argument("--models", default="popularity,itemknn,userknn,ease,als")
    ap.add_argument("--calls", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()

    # Load every BLAS/OpenMP library first: a limit only reaches the libraries already loaded.
    import scipy.sparse  # noqa: F401
    from threadpoolctl import threadpool_limits

    import animerec.recommend.registry  # noqa: F401

    with threadpool_limits(args.threads):  # BLAS and OpenMP pools alike
        run(args)


def run(args: argparse.Namespace) -> None:
    from animerec.data.catalog import Catalog
    from animerec.data.ratings import Ratings, histories_from_ratings
    from animerec.data.split import protocol_split
    from animerec.recommend.context import Context
    from animerec.recommend.registry import make_recommender
    from animerec.workspace import Workspace

    ws = Workspace.open(args.workspace)
    ws.require_ingested()
    catalog = Catalog.read(ws.anime)
    split = protocol_split(Ratings.read(ws.ratings))
    _, histories = histories_from_ratings(split.history)
    lens = np.array([len(h) for h in histories])
    print(
        f"{len(split.train_users)} training users, {len(histories)} test histories "
        f"(median {int(np.median(lens))} ratings), catalog {len(catalog)}, k={args.k}, "
        f"BLAS/OpenMP threads {args.threads}"
    )
    print(f"{'model':11s} {'fit s':>6s} {'p50 ms':>7s} {'p99 ms':>7s} {'max ms':>7s} "
          f"{'cpu p50':>7s} {'cpu p99':>7s} {'batch u/s':>9s} {'p99 / popularity':>16s}")  # fmt: skip
    base_p99 = None
    for name in [m.strip() for m in args.models.split(",") if m.strip()]:
        t0 = time.perf_counter()
        model = make_recommender(name, Context(ws)).fit(split.train, catalog)
        fit_s = time.perf_counter() - t0
        for i in range(50):  # warm-up: lazy caches, BLAS threads
            model.recommend([histories[i % len(histories)]], args.k)
        times, cpu = np.empty(args.calls), np.empty(args.calls)
        for i in range(args.calls):
            h = histories[i % len(histories)]
            c, t = time.thread_time(), time.perf_counter()
            model.recommend([h], args.k)
            times[i], cpu[i] = time.perf_counter() - t, time.thread_time() - c
        ms, cpu_ms = times * 1000, cpu * 1000
        t = time.perf_counter()
        for s in range(0, len(histories), args.batch):
            model.recommend(histories[s : s + args.batch], args.k)
        per_s = len(histories) / (time.perf_counter() - t)
        p50, p99 = np.percentile(ms, 50), np.percentile(ms, 99)
        base_p99 = p99 if base_p99 is None else base_p99
        print(
            f"{name:11s} {fit_s:6.1f} {p50:7.2f} {p99:7.2f} {ms.max():7.2f} "
            f"{np.percentile(cpu_ms, 50):7.2f} {np.percentile(cpu_ms, 99):7.2f} {per_s:9.0f} "
            f"{p99 / base_p99:15.1f}x",
            flush=True,
        )


if __name__ == "__main__":
    main()
