"""Choosing the dislike step's strength on VALIDATION users (issue 13 item 3), never test users.

The validation users are the tuning path's (``validation_split`` of the DEV training users,
seed 43); models are fitted on the other training users, and so are the step's shared-dislike
neighbours. Per strength and protocol:

- ``likesN+d1``: NDCG@10 and the detractor rate (share of the top 10 the user rated ≤ 6) with
  the dislike given and the step on, paired against the same users without the dislike;
- ``holdout``: the 80% history holds the user's own ratings ≤ 5, so the step acts there too —
  paired against the same lists with the step off.

    HF_HUB_OFFLINE=1 nice -n 10 python benchmarks/dislike_study.py -w WS \\
        --models ease,adaptive --strengths 0,0.25,0.5,1,2

Models run with the grid choice ``animerec evaluate`` cached in ``WS/tuning`` for each protocol
(EASE tuned per protocol, as the evaluation's reference; ``--no-tune``: defaults); ``adaptive``
with its fixed members. Bootstrap CIs (1000 resamples) over users, pooled over
every ``+d1`` protocol as well as per protocol.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from animerec.data.catalog import Catalog
from animerec.data.ratings import Ratings, histories_from_ratings
from animerec.data.split import (
    SEED,
    Protocol,
    parse_protocols,
    protocol_split,
    validation_split,
    without_dislikes,
)
from animerec.evaluate.metrics import bootstrap_ci, bootstrap_ratio_delta_ci
from animerec.evaluate.protocols import base_protocol, user_measures
from animerec.evaluate.tune import VALIDATION_FRAC
from animerec.recommend.context import Context
from animerec.recommend.dislikes import MIN_SHARED, NEIGHBOURS, DislikeNeighbours
from animerec.recommend.pipeline import RankOptions, select
from animerec.recommend.registry import recommender_class, resolve
from animerec.workspace import Workspace, read_entries


def _lists(model, hists, catalog, neighbours, strength: float, k: int) -> np.ndarray:
    scores = np.asarray(model.score(hists), np.float32)
    opts = RankOptions(k=k, dislike_strength=strength)
    return select(scores, hists, catalog, opts, dislikes=neighbours).ids(catalog)


def _tuned(ws: Workspace, name: str, cls, protocol: str) -> dict:
    """The grid choice ``animerec evaluate`` cached for ``name`` under ``protocol`` (over the
    model's present grid; {} when none is cached or the model has no grid)."""
    if not cls.search_space:
        return {}
    space = {key: list(v) for key, v in sorted(cls.search_space.items())}
    for e in read_entries(ws.sub("tuning") / f"{name}.json", name).values():
        s = e.get("settings", {})
        if s.get("protocol", "holdout") == protocol and s.get("space") == space:
            return dict(e["best"])
    return {}


def _cell(a, b, n_boot: int) -> dict:
    nd = bootstrap_ci(a.ndcg - b.ndcg, n_boot, SEED).as_dict()
    det = bootstrap_ratio_delta_ci(
        a.detractors, a.recommended, b.detractors, b.recommended, n_boot, SEED
    ).as_dict()
    rate = float(a.detractors.sum() / max(a.recommended.sum(), 1))
    return {"users": len(a.detractors), "ndcg": nd, "detractor_rate": rate, "d_detractor": det}


def _fmt(d: dict) -> str:
    return f"{d['mean']:+.4f} [{d['low']:+.4f}, {d['high']:+.4f}]"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-w", "--workspace", required=True)
    ap.add_argument("--models", default="ease,adaptive")
    ap.add_argument("--strengths", default="0,0.25,0.5,1,2")
    ap.add_argument("--likes", default="1,3,5,10")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--neighbours", type=int, default=NEIGHBOURS)
    ap.add_argument("--min-shared", type=int, default=MIN_SHARED)
    ap.add_argument("--no-tune", action="store_true")
    ap.add_argument("--out", default=None, help="JSON of every cell (default: print only)")
    args = ap.parse_args()

    ws = Workspace.open(args.workspace)
    catalog, ratings = Catalog.read(ws.anime), Ratings.read(ws.ratings)
    split = protocol_split(ratings, seed=SEED)
    vs = validation_split(split.train, seed=SEED + 1, frac=VALIDATION_FRAC)
    t0 = time.perf_counter()
    neighbours = DislikeNeighbours.of(
        vs.train, catalog, m=args.neighbours, min_shared=args.min_shared
    )
    print(f"neighbours: {time.perf_counter() - t0:.1f} s", flush=True)
    likes = [int(x) for x in args.likes.split(",")]
    protocols = [Protocol()] + [p for p in parse_protocols(["likes"], likes, 1) if p.dislikes]
    strengths = [float(x) for x in args.strengths.split(",")]
    out: dict = {}
    for name in args.models.split(","):
        cls = recommender_class(name)
        fits: dict[str, object] = {}
        for p in protocols:
            best = {} if args.no_tune else _tuned(ws, name, cls, base_protocol(p).name)
            key = json.dumps(best, sort_keys=True)
            if key not in fits:
                print(f"{name} @ {base_protocol(p).name}: {best or 'defaults'}", flush=True)
                model = resolve(name, {}, ws, tuner=lambda *_, b=best: b).build(Context(ws))
                fits[key] = model.fit(vs.train, catalog)
            model = fits[key]
            ps = p.apply(vs, seed=SEED + 1)
            users, hists = histories_from_ratings(ps.history)
            if p.dislikes:
                _, wh = histories_from_ratings(without_dislikes(ps).history)
                ref = _lists(model, wh, catalog, None, 0.0, args.k)
            else:
                ref = _lists(model, hists, catalog, None, 0.0, args.k)
            ref_m = user_measures(ref, ps, users, args.k)
            for st in strengths:
                m = user_measures(
                    _lists(model, hists, catalog, neighbours, st, args.k), ps, users, args.k
                )
                out.setdefault(name, {}).setdefault(str(st), {})[p.name] = (m, ref_m)
        for st, per in out[name].items():
            rows = [(pn, _cell(a, b, args.bootstrap)) for pn, (a, b) in per.items()]
            with_d = [per[pn] for pn in per if Protocol.parse(pn).dislikes]
            pooled = tuple(
                type(with_d[0][i])(
                    **{
                        f: np.concatenate([getattr(x[i], f) for x in with_d])
                        for f in ("ndcg", "hr", "nps_sum", "nps_n", "detractors", "recommended")
                    }
                )
                for i in (0, 1)
            )
            rows.append(("pooled +d1", _cell(*pooled, args.bootstrap)))
            for pn, c in rows:
                print(
                    f"{name:9s} strength {st:5s} {pn:11s} users {c['users']:4d}  "
                    f"Δ NDCG {_fmt(c['ndcg'])}  detractors {c['detractor_rate']:.4f} "
                    f"Δ {_fmt(c['d_detractor'])}",
                    flush=True,
                )
            out[name][st] = dict(rows)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
