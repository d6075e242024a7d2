"""NDCG@10 against catalog coverage for the batch spread (``animerec.recommend.spread``).

Fits a model (default: the hybrid; the workspace's tuning caches are used) on validation
splits carved from the DEV protocol's training users (one per ``--val-seeds``; 43 is the one
tuning uses) and on the DEV training users. For every (keep, window) of a grid it spreads the
held-out users' lists and prints NDCG@10 and coverage. The setting chosen is the one with the
highest mean coverage whose mean NDCG@10 loss (relative) over the *validation* splits is at most
``--max-loss``; the DEV rows then show what it gives on the test users, who played no part in
the choice.

    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 python benchmarks/spread_tradeoff.py -w WS \
        [--model hybrid] [--max-loss 0.02] [--val-seeds 43 44 45]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

KEEP = (9, 8, 7, 6)
WINDOW = (15, 20, 30, 40, 60)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workspace", "-w", required=True, type=Path)
    ap.add_argument("--model", default="hybrid")
    ap.add_argument("--max-loss", type=float, default=0.02)
    ap.add_argument("--val-seeds", type=int, nargs="+", default=[43])
    a = ap.parse_args()

    from animerec.data.catalog import Catalog
    from animerec.data.ratings import Ratings, histories_from_ratings
    from animerec.data.split import protocol_split, validation_split
    from animerec.evaluate.metrics import coverage, lookup_heldout, ranking_metrics
    from animerec.evaluate.runner import evaluate
    from animerec.recommend import Spread, mask_seen, spread, top_k
    from animerec.workspace import Workspace

    ws = Workspace.open(a.workspace)
    ratings, catalog = Ratings.read(ws.ratings), Catalog.read(ws.anime)
    dev = protocol_split(ratings)
    table: dict[str, dict] = {}
    splits = [(f"validation {v}", validation_split(dev.train, seed=v)) for v in a.val_seeds]
    for name, split in [*splits, ("DEV test", dev)]:
        data = ratings if split is dev else split.train
        ev = evaluate(
            [a.model], data, catalog, workspace=ws, keep_models=True, n_bootstrap=10, split=split
        )
        users, histories = histories_from_ratings(split.history)
        scores = np.asarray(ev.models[a.model].score(histories), np.float32)
        mask_seen(scores, histories, catalog)
        ranked = top_k(scores, max(WINDOW))
        pos = catalog.positions(split.train.anime_id)
        items = catalog.anime_ids[np.bincount(pos[pos >= 0], minlength=len(catalog)) > 0]

        def measure(p: np.ndarray, users=users, split=split, items=items) -> tuple[float, float]:
            ids = catalog.anime_ids[p]
            look = lookup_heldout(ids, split.heldout, users)
            return float(ranking_metrics(look, users, 10).ndcg.mean()), coverage(ids, items)

        rows = {(0, 0): measure(ranked[:, :10])}
        for keep in KEEP:
            for window in WINDOW:
                s = Spread(keep=keep, window=window)
                rows[(keep, window)] = measure(spread(ranked, 10, s, len(catalog)))
        table[name] = rows
        print(f"{name}: {len(users)} users; plain top-10 NDCG@10 {rows[(0, 0)][0]:.4f}, "
              f"coverage {rows[(0, 0)][1]:.3f}", flush=True)  # fmt: skip

    vals = [table[name] for name, _ in splits]
    grid = [key for key in vals[0] if key != (0, 0)]

    def loss(key) -> float:  # mean relative NDCG@10 loss over the validation splits
        return float(np.mean([1 - v[key][0] / v[(0, 0)][0] for v in vals]))

    def reach(key) -> float:
        return float(np.mean([v[key][1] for v in vals]))

    ok = [key for key in grid if loss(key) <= a.max_loss]
    chosen = max(ok, key=lambda key: (reach(key), -loss(key))) if ok else None
    for (name, _), v in zip(splits, vals, strict=True):
        alone = [key for key in grid if 1 - v[key][0] / v[(0, 0)][0] <= a.max_loss]
        print(f"{name} alone would choose {max(alone, key=lambda key: v[key][1], default=None)}")
    print(f"\nchosen on validation (≤ {a.max_loss:.0%} mean NDCG loss, most coverage): {chosen}\n")
    heads = " | ".join(f"{name} NDCG@10 | coverage" for name, _ in splits)
    print(f"| keep | window | {heads} | DEV NDCG@10 | DEV coverage |")
    print("|---|---|" + "---|---|" * (len(splits) + 1))
    for key in [(0, 0), *grid]:
        label = ("plain top-10", "–") if key == (0, 0) else key
        mark = " **(chosen)**" if key == chosen else ""
        cells = " | ".join(f"{v[key][0]:.4f} | {v[key][1]:.3f}" for v in vals)
        d = table["DEV test"][key]
        print(f"| {label[0]} | {label[1]}{mark} | {cells} | {d[0]:.4f} | {d[1]:.3f} |")


if __name__ == "__main__":
    main()
