"""The ranker's booster settings, chosen on VALIDATION users (docs/experiments.md, "The learned
ranker"): the validation queries of the DEV training users are built once (members fitted on
the training users minus the validation users) and saved; each grid point is then scored by the
ranker's own cross-fitted check (train on one half of the validation users, rank the other).

    HF_HUB_OFFLINE=1 nice -n 10 python benchmarks/ranker_study.py WS OUT.npz \
        '[{"objective": "rank_xendcg", "num_leaves": 15, "min_data_in_leaf": 100, "rounds": 150}]'

A fourth argument drops the features whose names start with any of its comma-separated parts
(``mal_score,log_members``: the MAL catalog metadata ablation).
"""

import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from animerec.data.catalog import Catalog
from animerec.data.ratings import Ratings
from animerec.data.split import protocol_split, validation_split
from animerec.recommend.context import Context
from animerec.recommend.ranker import RankerRecommender
from animerec.recommend.ranker.features import ItemSide, feature_names
from animerec.recommend.ranker.learn import Queries, check, lgb_params, queries
from animerec.workspace import Workspace


def build(ws: Workspace, model: RankerRecommender, out: Path) -> Queries:
    """The validation queries of ``model``'s settings, saved to ``out`` (read back if there)."""
    if out.exists():
        z = np.load(out)
        return Queries(
            *(z[k] for k in ("features", "labels", "groups", "protocol", "user", "n_relevant"))
        )  # noqa: E501
    ratings, catalog = Ratings.read(ws.ratings), Catalog.read(ws.anime)
    p = model.params
    train = protocol_split(ratings).train
    vs = validation_split(train, seed=p.validation_seed, min_ratings=p.min_validation_ratings)
    t = time.time()
    fitted = [model._make(m).fit(vs.train, catalog) for m in p.members]
    side = ItemSide.of(vs.train, catalog, model._vectors(fitted))
    q = queries(fitted, p.depths, side, vs, p.protocols, p.draws, catalog)
    print(f"{len(q.groups)} queries, {len(q.labels)} rows in {time.time() - t:.0f} s", flush=True)
    np.savez(
        out,
        **{
            k: getattr(q, k)
            for k in ("features", "labels", "groups", "protocol", "user", "n_relevant")
        },
    )  # noqa: E501
    return q


def main() -> None:
    ws, out = Workspace.open(sys.argv[1]), Path(sys.argv[2])
    grid = json.loads(sys.argv[3])
    drop = [d for d in (sys.argv[4] if len(sys.argv) > 4 else "").split(",") if d]
    model = RankerRecommender(context=Context(ws))
    q = build(ws, model, out)
    names = feature_names(model.params.members, True)
    keep = [i for i, n in enumerate(names) if not any(n.startswith(d) for d in drop)]
    kept = [names[i] for i in keep]
    q = replace(q, features=q.features[:, keep])
    for g in grid:
        p = replace(model.params, **{k: v for k, v in g.items()})
        rows = check(
            q, lgb_params(p), p.rounds, [kept.index("type")],
            kept.index(f"{p.members[0]}:rank"), p.seed,
        )  # fmt: skip
        cells = [
            f"{k} {v['base_ndcg']:.3f}->{v['ranker_ndcg']:.3f} {v['delta']:+.3f} "
            f"[{v['delta_ci'][0]:+.3f}, {v['delta_ci'][1]:+.3f}]"
            for k, v in rows.items()
        ]
        print(json.dumps(g), " | ".join(cells), flush=True)


if __name__ == "__main__":
    main()
