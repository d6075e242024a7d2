"""Wall time of the full DEV evaluation (DESIGN §5) of every registered recommender.

Target (issue "Recommenders and the evaluation that proves them"): all seven models, with cached
embeddings and cached tuning, in ≤ 60 s. The first run tunes (and caches) and the hybrid learns
its fusion weights (cached in ``WS/tuning/hybrid-fusion.json``); the timed run is the second one,
exactly what ``animerec evaluate`` does on a warm workspace, report included.
The baseline measured in the same run: the same metrics computed user by user in plain Python.

Run:
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 python benchmarks/evaluate_speed.py \
        [--workspace WS] [--data ../shared/data/mal-2020-sample] [--models popularity,ease]
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from animerec.cli.evaluate import MODEL_ORDER
from animerec.data.catalog import Catalog
from animerec.data.ratings import Ratings
from animerec.data.split import protocol_split
from animerec.evaluate.metrics import lookup_heldout, nps_pooled, ranking_metrics
from animerec.evaluate.report import write_report
from animerec.evaluate.runner import evaluate
from animerec.recommend.registry import RECOMMENDERS
from animerec.workspace import Workspace

REPO = Path(__file__).resolve().parents[1]


def naive_metrics(split, recommended: np.ndarray, k: int) -> tuple[float, float]:
    """NDCG@k and pooled NPS one user at a time (dict look-ups): the baseline."""
    nd, nps = [], []
    for i, user in enumerate(split.test_users):
        mine = split.heldout.user_id == user
        held = dict(
            zip(
                split.heldout.anime_id[mine].tolist(),
                split.heldout.rating[mine].tolist(),
                strict=True,
            )
        )
        recs = [int(a) for a in recommended[i] if a != -1][:k]
        nps += [1 if held[a] >= 9 else 0 if held[a] >= 7 else -1 for a in recs if a in held]
        rel = {a for a, r in held.items() if r >= 9}
        if rel:
            dcg = sum(1 / math.log2(r + 2) for r, a in enumerate(recs) if a in rel)
            nd.append(dcg / sum(1 / math.log2(r + 2) for r in range(min(k, len(rel)))))
    return float(np.mean(nd)), sum(nps) / len(nps)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workspace", type=Path, help="an ingested workspace (default: ingest --data)")
    ap.add_argument(
        "--data", type=Path, default=REPO.parent / "shared" / "data" / "mal-2020-sample"
    )
    ap.add_argument("--models", help="comma-separated (default: every registered model)")
    ap.add_argument("--embedder", help="embedder for content/hybrid")
    args = ap.parse_args()

    if args.workspace is None:
        from animerec.data.ingest import ingest

        ws = Workspace(Path(tempfile.mkdtemp(prefix="animerec-bench-")))
        t0 = time.perf_counter()
        ingest(args.data, ws)
        print(f"ingest {args.data}: {time.perf_counter() - t0:.1f} s")
    else:
        ws = Workspace(args.workspace)
    names = args.models.split(",") if args.models else [m for m in MODEL_ORDER if m in RECOMMENDERS]
    shared = {"embedder": args.embedder} if args.embedder else {}
    params = {n: shared for n in names}

    catalog, ratings = Catalog.read(ws.anime), Ratings.read(ws.ratings)
    t0 = time.perf_counter()
    ev = evaluate(names, ratings, catalog, workspace=ws, params=params)
    cold_s = time.perf_counter() - t0
    tune_s = {n: t.tune_s for n, t in ev.tunings.items() if not t.cached}
    print(f"first run (tunes what is not cached yet): {cold_s:.1f} s; tuning: {tune_s}")

    t0 = time.perf_counter()
    catalog, ratings = Catalog.read(ws.anime), Ratings.read(ws.ratings)
    ev = evaluate(names, ratings, catalog, workspace=ws, params=params)
    out = write_report(ev, ws.reports_dir / "eval-benchmark")
    warm_s = time.perf_counter() - t0
    assert all(t.cached for t in ev.tunings.values())
    print(f"\nmodels: {', '.join(names)}")
    print(f"{'model':<12}{'fit s':>8}{'recommend s':>13}{'NDCG@10':>9}")
    for r in ev.results:
        print(f"{r.model:<12}{r.fit_s:>8.2f}{r.recommend_s:>13.2f}{r.ndcg.mean:>9.4f}")
    models_s = sum(r.fit_s + r.recommend_s for r in ev.results)
    print(f"full DEV evaluation, tuning cached, report written: {warm_s:.1f} s (target <= 60 s)")
    print(
        f"  of which fitting + scoring the models: {models_s:.1f} s; everything else (reading the "
        f"workspace, split, metrics, CIs, cold-start and explore lists, report): "
        f"{warm_s - models_s:.1f} s"
    )
    print(f"load average (1/5/15 min) at the end: {os.getloadavg()}")
    print(f"report: {out / 'report.md'}")

    # metrics: vectorised vs user-by-user, on the same recommendations
    split = protocol_split(ratings)
    rec = ev.results[0].recommended
    t0 = time.perf_counter()
    for _ in range(5):
        look = lookup_heldout(rec, split.heldout, split.test_users)
        fast = (
            ranking_metrics(look, split.test_users, 10).ndcg.mean(),
            nps_pooled(look.rating).value,
        )
    fast_s = (time.perf_counter() - t0) / 5
    t0 = time.perf_counter()
    slow = naive_metrics(split, rec, 10)
    slow_s = time.perf_counter() - t0
    assert np.allclose(fast, slow)
    print(
        f"metrics of one model: vectorised {1000 * fast_s:.1f} ms vs per-user loop "
        f"{1000 * slow_s:.1f} ms ({slow_s / fast_s:.0f}x)"
    )


if __name__ == "__main__":
    main()
