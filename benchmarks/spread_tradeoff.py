"""NDCG@10 against catalog coverage for the batch spread (``animerec.recommend.spread``).

Fits a model (default: the hybrid; the workspace's tuning caches are used) twice: on the
validation split carved from the DEV protocol's training users, and on the DEV training users.
For every (keep, window) of a grid it spreads the test users' lists and prints NDCG@10 and
coverage. The setting chosen is the one with the highest coverage that loses at most
``--max-loss`` (relative) of NDCG@10 on the *validation* users; the DEV rows then show what it
gives on the test users, who played no part in the choice.

    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 python benchmarks/spread_tradeoff.py -w WS \
        [--model hybrid] [--max-loss 0.02]
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
    a = ap.parse_args()

    from animerec.data.catalog import Catalog
    from animerec.data.ratings import Ratings, histories_from_ratings
    from animerec.evaluate.metrics import coverage, lookup_heldout, ranking_metrics
    from animerec.evaluate.runner import evaluate
    from animerec.evaluate.split import protocol_split, validation_split
    from animerec.recommend import Spread, mask_seen, spread, top_k
    from animerec.workspace import Workspace

    ws = Workspace.open(a.workspace)
    ratings, catalog = Ratings.read(ws.ratings), Catalog.read(ws.anime)
    dev = protocol_split(ratings)
    table: dict[str, dict] = {}
    for name, split in (("validation", validation_split(dev.train)), ("DEV test", dev)):
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

    val = table["validation"]
    floor = (1 - a.max_loss) * val[(0, 0)][0]
    ok = [key for key in val if key != (0, 0) and val[key][0] >= floor]
    chosen = max(ok, key=lambda key: (val[key][1], val[key][0])) if ok else None
    print(f"\nchosen on validation (≤ {a.max_loss:.0%} NDCG loss, most coverage): {chosen}\n")
    print(
        "| keep | window | validation NDCG@10 | validation coverage | DEV NDCG@10 | DEV coverage |"
    )
    print("|---|---|---|---|---|---|")
    for key in table["validation"]:
        v, d = table["validation"][key], table["DEV test"][key]
        label = ("plain top-10", "–") if key == (0, 0) else key
        mark = " **(chosen)**" if key == chosen else ""
        print(
            f"| {label[0]} | {label[1]}{mark} | {v[0]:.4f} | {v[1]:.3f} | {d[0]:.4f} | {d[1]:.3f} |"
        )


if __name__ == "__main__":
    main()
