"""How much coverage a model's top-10 lists can gain for a given loss of NDCG@10.

Catalog coverage (distinct recommended anime among those a training user rated) only rises when
some users get anime nobody else is recommended. This benchmark fits a model on the DEV
protocol's training users (the workspace's tuning and fusion caches are used), then blanks the
last 1-3 slots of every test user's list and prints NDCG@10 without them, next to the best
coverage reachable if each blanked slot were refilled with an anime recommended to nobody else.
A refill can only win back NDCG by hitting; so if blanking the slots a coverage target needs
already costs more than the NDCG budget, the refills must hit about as often as the model's own
last choices. (That reads as a bound only for unique refills: refills drawn from each user's own
top 40, least-recommended first, hit about half as often and were enough — see
``benchmarks/spread_tradeoff.py`` and ``animerec.recommend.spread``.)

    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 python benchmarks/coverage_bound.py -w WS \
        [--model hybrid] [--target-coverage 0.15] [--ndcg-floor 0.42]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workspace", "-w", required=True, type=Path)
    ap.add_argument("--model", default="hybrid")
    ap.add_argument("--target-coverage", type=float, default=0.15)
    ap.add_argument("--ndcg-floor", type=float, default=0.42)
    a = ap.parse_args()

    from animerec.data.catalog import Catalog
    from animerec.data.ratings import Ratings, histories_from_ratings
    from animerec.data.split import protocol_split
    from animerec.evaluate.metrics import PAD, coverage, lookup_heldout, ranking_metrics
    from animerec.evaluate.runner import evaluate
    from animerec.recommend import mask_seen, top_k
    from animerec.workspace import Workspace

    ws = Workspace.open(a.workspace)
    ratings, catalog = Ratings.read(ws.ratings), Catalog.read(ws.anime)
    split = protocol_split(ratings)
    ev = evaluate([a.model], ratings, catalog, workspace=ws, keep_models=True, n_bootstrap=10)
    model = ev.models[a.model]
    users, histories = histories_from_ratings(split.history)
    scores = np.asarray(model.score(histories), np.float32)
    mask_seen(scores, histories, catalog)
    top = catalog.anime_ids[top_k(scores, 10)]
    pos = catalog.positions(split.train.anime_id)
    train_items = catalog.anime_ids[np.bincount(pos[pos >= 0], minlength=len(catalog)) > 0]

    def ndcg(ids: np.ndarray) -> float:
        return float(
            ranking_metrics(lookup_heldout(ids, split.heldout, users), users, 10).ndcg.mean()
        )

    full, distinct = ndcg(top), len(np.unique(top))
    need = int(np.ceil(a.target_coverage * len(train_items))) - distinct
    print(
        f"{a.model}: NDCG@10 {full:.4f}, coverage {coverage(top, train_items):.3f} ({distinct:,} of "
        f"{len(train_items):,} anime) over {len(users)} test users; coverage {a.target_coverage} "
        f"needs {max(need, 0):,} more distinct anime; NDCG budget to {a.ndcg_floor}: "
        f"{full - a.ndcg_floor:+.4f}"
    )
    print(
        "| last slots blanked | NDCG@10 without them | loss | coverage at most, refilled uniquely |"
    )
    print("|---:|---:|---:|---:|")
    for drop in (1, 2, 3):
        ids = top.copy()
        ids[:, 10 - drop :] = PAD
        kept = len(np.unique(ids[ids != PAD]))
        best = (kept + drop * len(users)) / len(train_items)
        low = ndcg(ids)
        print(f"| {drop} | {low:.4f} | {full - low:.4f} | {best:.3f} |")


if __name__ == "__main__":
    main()
