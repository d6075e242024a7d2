"""Latency of recommending for ONE user, in process: content and hybrid (EASE as the baseline).

Target (issue "Recommenders and the evaluation that proves them"): ≤ 5 ms p99 per user for
item-kNN, content and hybrid. Models come from the workspace store (fitted on all its users
once, then loaded); the users are the DESIGN §5 test users of the workspace, each asked alone
for its top 10 with ``exclude_seen``.

    HF_HUB_OFFLINE=1 python benchmarks/content_latency.py --workspace WS [--models content,hybrid,ease]
        [--users 300] [--explore 0]

Prints one line per model: p50, p99 and max milliseconds, and the ratio of p99 to the first
model listed last (EASE by default).
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workspace", "-w", required=True)
    ap.add_argument("--models", default="content,hybrid,itemknn,ease")
    ap.add_argument("--users", type=int, default=300)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--explore", type=float, default=0.0)
    ap.add_argument("--embedder", default=None)
    args = ap.parse_args()

    from animerec.data.ratings import Ratings, histories_from_ratings
    from animerec.evaluate.split import protocol_split
    from animerec.recommend.registry import RECOMMENDERS
    from animerec.recommend.store import fitted
    from animerec.workspace import Workspace

    ws = Workspace.open(args.workspace)
    split = protocol_split(Ratings.read(ws.ratings))
    _, histories = histories_from_ratings(split.history)
    histories = histories[: args.users]
    print(f"{len(histories)} users, k={args.k}, explore={args.explore}, workspace {ws.root}")
    rows = []
    for name in [m.strip() for m in args.models.split(",") if m.strip()]:
        if name not in RECOMMENDERS:
            print(f"{name:10s} not registered: skipped")
            continue
        t0 = time.perf_counter()
        emb = args.embedder if name in ("content", "hybrid") else None
        model = fitted(ws, name, embedder=emb)
        load_s = time.perf_counter() - t0
        for h in histories[:20]:  # warm-up: caches, lazy imports
            model.recommend([h], args.k, explore=args.explore)
        times = []
        for h in histories:
            t = time.perf_counter()
            model.recommend([h], args.k, explore=args.explore)
            times.append(time.perf_counter() - t)
        ms = np.array(times) * 1000
        rows.append((name, np.percentile(ms, 50), np.percentile(ms, 99), ms.max(), load_s))
    base = rows[-1][2] if rows else 1.0
    for name, p50, p99, mx, load_s in rows:
        print(
            f"{name:10s} p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  max {mx:6.2f} ms  "
            f"(p99 × {p99 / base:.2f} of {rows[-1][0]}; load/fit {load_s:.1f} s)"
        )


if __name__ == "__main__":
    main()
