"""ALS fit time: implicit on one machine vs Spark MLlib (local mode) on the same synthetic ratings.

For each size (multiples of the sample's 278,462 rows; 204.7 ≈ the full 57 M), synthetic ratings
(benchmarks/synth.py) are ingested into a temporary workspace, then:

- implicit's ALS (``animerec.recommend.als.ALS``, all cores, conjugate gradient) is fitted with
  ``--iterations`` and, for the like-for-like row, with ``--spark-iterations``;
- Spark MLlib's implicit ALS (``animerec.spark.als.fit_item_factors``, exact Cholesky solves) is
  fitted with ``--spark-iterations`` on the same ``ratings.parquet`` (skipped with ``--no-spark``).

Same factors, same confidence ``1 + alpha·w(rating)`` on ratings ≥ 7. Each row prints the wall
seconds and seconds per iteration, the machine's load average, and at the end a line fit of
seconds per iteration over the sizes (``a + b·rows``) for each engine.

    python benchmarks/als_scale.py --scales 1 4 16 --spark-iterations 3 --master 'local[2]'
    python benchmarks/als_scale.py --scales 204.7 --no-spark          # implicit on 57 M rows
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scale import SAMPLE_ROWS, fit_line, load  # noqa: E402
from synth import SAMPLE, synth_ratings  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scales", type=float, nargs="+", default=[1, 4, 16])
    ap.add_argument("--factors", type=int, default=64)
    ap.add_argument("--iterations", type=int, default=15)
    ap.add_argument("--spark-iterations", type=int, default=3)
    ap.add_argument("--no-spark", action="store_true")
    ap.add_argument("--master", default="local[*]")
    ap.add_argument("--driver-memory", default="8g")
    ap.add_argument("--tmp", type=Path, default=None)
    args = ap.parse_args()

    from animerec.data.catalog import Catalog
    from animerec.data.ingest import ingest
    from animerec.data.ratings import Ratings
    from animerec.recommend.als import ALS
    from animerec.workspace import Workspace

    spark = None
    if not args.no_spark:
        from animerec.spark.session import SparkSettings, spark_session

        t = time.perf_counter()
        spark = spark_session(SparkSettings(master=args.master, driver_memory=args.driver_memory))
        print(f"Spark {spark.version} {args.master} started in {time.perf_counter() - t:.0f} s")
    print(f"{os.cpu_count()} cores; factors {args.factors}")
    print(f"{'rows':>12} {'engine':8} {'iters':>5} {'fit s':>8} {'s/iter':>7}  load")
    per_iter: dict[str, list[tuple[float, float]]] = {}
    root = Path(tempfile.mkdtemp(prefix="animerec-als-", dir=args.tmp))
    try:
        for scale in args.scales:
            data, ws = root / "data", Workspace(root / "ws")
            data.mkdir()
            for f in ("anime.csv", "anime_with_synopsis.csv"):
                shutil.copy(SAMPLE / f, data / f)
            synth_ratings(round(scale * SAMPLE_ROWS), data / "rating_complete.csv")
            ingest(data, ws)
            shutil.rmtree(data)
            ratings, catalog = Ratings.read(ws.ratings), Catalog.read(ws.anime)
            n = len(ratings)
            runs = sorted({args.iterations, args.spark_iterations} if spark else {args.iterations})
            for iters in runs:
                p = ALS.Params(factors=args.factors, iterations=iters, threads=0)
                t = time.perf_counter()
                ALS(p).fit(ratings, catalog)
                s = time.perf_counter() - t
                print(
                    f"{n:>12,} {'implicit':8} {iters:>5} {s:8.1f} {s / iters:7.2f}  {load()}",
                    flush=True,
                )
                if iters == args.spark_iterations or not spark:
                    per_iter.setdefault("implicit", []).append((n / 1e6, s / iters))
            del ratings
            if spark is not None:
                from animerec.spark.als import SparkALSParams, fit_item_factors

                p = SparkALSParams(factors=args.factors, iterations=args.spark_iterations)
                t = time.perf_counter()
                ids, _ = fit_item_factors(spark, ws.ratings, p)
                s = time.perf_counter() - t
                it = args.spark_iterations
                print(f"{n:>12,} {'spark':8} {it:>5} {s:8.1f} {s / it:7.2f}  {load()}", flush=True)
                per_iter.setdefault("spark", []).append((n / 1e6, s / it))
            shutil.rmtree(ws.root)
        print("\nseconds per iteration over the sizes (x = millions of ratings)")
        for engine, pts in per_iter.items():
            x, y = [q[0] for q in pts], [q[1] for q in pts]
            print(f"  {engine:8s} ≈ {fit_line(x, y)}")
            if len(pts) > 1:
                b, a = np.polyfit(x, y, 1)
                print(
                    f"  {engine:8s} at 57 M rows (extrapolated): {a + 57 * b:.1f} s per iteration"
                )
    finally:
        shutil.rmtree(root, ignore_errors=True)
        if spark is not None:
            spark.stop()


if __name__ == "__main__":
    main()
