"""What franchise-aware lists cost or gain on DEV (issue 14): plain vs franchise-step lists of
one model, under the 80% hold-out and the few-likes protocols, scored two ways.

- **plain NDCG@10**: the usual metric (a hit = a recommended title the user rated >= 9);
- **franchise NDCG@10**: hits counted per franchise (a recommended title is a hit when any
  title of its franchise is among the user's relevant answers, each franchise once; the ideal
  list has one hit per relevant franchise) — what a fan who is shown "start with Code Geass"
  rather than R2 gets.

    python benchmarks/franchise_cost.py -w WS [--model ease] [--likes 3]

Paired bootstrap CIs over the same users (franchise step − plain). The model is fitted on the
protocol split's training users only, with its default parameters (the comparison is of the
list step, not of the model).
"""

from __future__ import annotations

import argparse

import numpy as np

from animerec.data.catalog import Catalog
from animerec.data.ratings import Ratings, histories_from_ratings
from animerec.data.split import likes_split, protocol_split
from animerec.evaluate.metrics import bootstrap_ci
from animerec.recommend import RankOptions, make_recommender, rank_batch
from animerec.recommend.franchise_order import franchises_of
from animerec.workspace import Workspace


def ndcg(
    ranked: np.ndarray, relevant: list[set[int]], k: int, groups: np.ndarray | None
) -> np.ndarray:
    """Per user NDCG@k of catalog positions ``ranked`` against relevant positions; with
    ``groups`` (franchise of each position) hits and the ideal are counted per franchise."""
    disc = 1 / np.log2(np.arange(2, k + 2))
    out = np.zeros(len(ranked))
    for i, (row, rel) in enumerate(zip(ranked, relevant, strict=True)):
        if groups is not None:
            rel = {int(groups[p]) for p in rel}
            row = [int(groups[p]) if p >= 0 else -1 for p in row]
        seen: set[int] = set()
        gain = np.zeros(k)
        for j, p in enumerate(row[:k]):
            if p >= 0 and p in rel and p not in seen:
                gain[j] = 1
                seen.add(p)
        ideal = disc[: min(len(rel), k)].sum()
        out[i] = (gain * disc).sum() / ideal if ideal else 0.0
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-w", "--workspace", required=True)
    ap.add_argument("--model", default="ease")
    ap.add_argument("--likes", type=int, nargs="*", default=[3, 10])
    ap.add_argument("--k", type=int, default=10)
    args = ap.parse_args()
    ws = Workspace(args.workspace)
    catalog = Catalog.read(ws.anime)
    split = protocol_split(Ratings.read(ws.ratings))
    model = make_recommender(args.model).fit(split.train, catalog)
    groups = franchises_of(catalog).franchise_of
    protocols = [("holdout", split)] + [(f"likes{n}", likes_split(split, n)) for n in args.likes]
    print(f"model {args.model}; NDCG@{args.k}, franchise step − plain, paired 95% CIs")
    print(
        "| protocol | users | plain NDCG (plain list) | with the step | Δ | franchise NDCG (plain list) | with the step | Δ |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, s in protocols:
        users, hists = histories_from_ratings(s.history)
        held = s.heldout.take(s.heldout.rating >= 9)
        rel = []
        for u in users:
            pos = catalog.positions(held.anime_id[held.user_id == u])
            rel.append({int(p) for p in pos[pos >= 0]})
        keep = np.array([bool(r) for r in rel])
        lists = {
            on: rank_batch(model, hists, RankOptions(k=args.k, franchise=on)).positions
            for on in (False, True)
        }
        row = [name, f"{int(keep.sum()):,}"]
        rel_kept = [r for r in rel if r]
        for g in (None, groups):
            a = ndcg(lists[False][keep], rel_kept, args.k, g)
            b = ndcg(lists[True][keep], rel_kept, args.k, g)
            d = bootstrap_ci(b - a)
            row += [
                f"{a.mean():.3f}",
                f"{b.mean():.3f}",
                f"{d.mean:+.3f} [{d.low:+.3f}, {d.high:+.3f}]",
            ]
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
