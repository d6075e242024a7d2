"""Latency of recommending for ONE user, in process: content and hybrid, with item-kNN and EASE
measured in the same run as baselines.

Target (issue "Recommenders and the evaluation that proves them"): ≤ 5 ms p99 per user for
item-kNN, content and hybrid. The models come from the workspace's fitted-model store
(:func:`animerec.recommend.store.fitted`: fitted once on all users of the workspace, then loaded),
as the CLI and the API use them; the calls use the DESIGN §5 test users' histories, cycled:
``--calls`` calls of ``recommend([history], k=10)`` (seen items excluded, reasons included) after
50 warm-up calls. BLAS/OpenMP run on ``--threads`` threads (default 1, as
``benchmarks/recommend_latency.py`` does: one-user products gain nothing from more, and spinning
pools dominate the tail on a busy machine).

    HF_HUB_OFFLINE=1 python benchmarks/content_latency.py --workspace WS
        [--models content,hybrid,itemknn,ease] [--calls 1000] [--explore 0] [--threads 1]

WS must hold the ingested data; content/hybrid need the catalog's embeddings (encoded on first
use, minutes on a CPU). Prints per model: load-or-fit seconds; p50/p99/max wall ms per call and
p50/p99 of the call's CPU time (the calling thread's, which other jobs on a busy machine do not
inflate); and the CPU p99 ratio to the last model listed (EASE by default).
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workspace", "-w", required=True)
    ap.add_argument("--models", default="content,hybrid,itemknn,ease")
    ap.add_argument("--calls", type=int, default=1000)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--explore", type=float, default=0.0)
    ap.add_argument("--embedder", default=None)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()

    # Load every BLAS/OpenMP library first: a limit only reaches the libraries already loaded.
    import scipy.sparse  # noqa: F401
    from threadpoolctl import threadpool_limits

    import animerec.recommend.registry  # noqa: F401

    with threadpool_limits(args.threads):
        run(args)


def run(args: argparse.Namespace) -> None:
    from animerec.data.ratings import Ratings, histories_from_ratings
    from animerec.data.split import protocol_split
    from animerec.recommend.registry import RECOMMENDERS
    from animerec.recommend.store import fitted
    from animerec.workspace import Workspace

    ws = Workspace.open(args.workspace)
    ws.require_ingested()
    split = protocol_split(Ratings.read(ws.ratings))
    _, histories = histories_from_ratings(split.history)
    lens = np.array([len(h) for h in histories])
    print(
        f"{len(histories)} test histories (median {int(np.median(lens))} ratings), k={args.k}, "
        f"explore={args.explore}, {args.calls} calls, {args.threads} BLAS thread(s), {ws.root}"
    )
    rows = []
    for name in [m.strip() for m in args.models.split(",") if m.strip()]:
        if name not in RECOMMENDERS:
            print(f"{name:10s} not registered: skipped")
            continue
        t0 = time.perf_counter()
        emb = args.embedder if name in ("content", "hybrid") else None
        model = fitted(ws, name, embedder=emb)
        load_s = time.perf_counter() - t0
        for i in range(50):  # warm-up: caches, lazy imports
            model.recommend([histories[i % len(histories)]], args.k, explore=args.explore)
        wall, cpu = [], []
        for i in range(args.calls):
            h = histories[i % len(histories)]
            t, c = time.perf_counter(), time.thread_time()
            model.recommend([h], args.k, explore=args.explore)
            cpu.append(time.thread_time() - c)
            wall.append(time.perf_counter() - t)
        w, c = np.array(wall) * 1000, np.array(cpu) * 1000
        rows.append(
            (name, load_s, *np.percentile(w, [50, 99]), w.max(), *np.percentile(c, [50, 99]))
        )
    if not rows:
        return
    base = rows[-1]
    print("model       load/fit s  wall p50  wall p99   max ms  cpu p50  cpu p99  cpu p99 ratio")
    for name, load_s, w50, w99, wmax, c50, c99 in rows:
        print(
            f"{name:10s} {load_s:10.1f} {w50:9.2f} {w99:9.2f} {wmax:8.1f} {c50:8.2f} {c99:8.2f}"
            f"  {c99 / base[6]:.2f}× {base[0]}"
        )


if __name__ == "__main__":
    main()
