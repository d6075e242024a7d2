"""Growth benchmarks: every heavy step at 1×, 4×, 16× the sample (and 57 M rows), with line fits.

For each size, synthetic ratings with the sample's distributions (benchmarks/synth.py) are written
to a temporary folder beside the sample's anime files, then the real commands run under GNU time
(wall clock, peak RSS):

- ``ingest``: ``animerec ingest`` (``--engine spark`` with ``--engine spark``);
- ``labels``: ``animerec labels`` (the protocol's training users, ≥ 20 co-raters);
- ``models``: one process fits ALS (implicit, all cores) and EASE on every user, then times
  ``recommend([history], k=10)`` for single users (p50/p99, BLAS on 1 thread, after warm-up) and
  ``recommend`` over ``--users`` histories (drawn with replacement, seed 0) in batches of
  ``--batch`` (users/s). Peak RSS is that process's;
- ``encode`` (once, not per size): catalog descriptions encoded by torch fp32 and ONNX int8
  (MiniLM, max_seq_length 128) at each of ``--encode-n`` text counts.

Each step's time (and RSS) is then fitted to a line over the sizes: ``seconds ≈ a + b·rows``
(``np.polyfit``), printed with R². The machine's load average is printed with every row, since
a shared machine disturbs wall times.

    python benchmarks/scale.py                                   # 1×, 4×, 16×, all steps
    python benchmarks/scale.py --scales 1 4 16 204.7 --users 100000   # … and 57 M rows
    python benchmarks/scale.py --steps ingest,labels --engine spark --master 'local[2]'
    python benchmarks/scale.py --steps encode --encode-n 64 256 1024
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest_full import timed  # noqa: E402
from synth import SAMPLE, synth_ratings  # noqa: E402

SAMPLE_ROWS = 278_462
STEPS = ("ingest", "labels", "models", "encode")


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def timed_json(cmd: list[str]) -> tuple[float, float, dict]:
    """(wall s, peak RSS GiB, the JSON object the command printed last) under GNU time."""
    p = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} failed:\n{p.stderr[-3000:]}")
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", p.stderr).group(1)
    secs = sum(float(x) * 60**i for i, x in enumerate(reversed(wall.split(":"))))
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr).group(1))
    line = [s for s in p.stdout.splitlines() if s.startswith("{")][-1]
    return secs, rss / 2**20, json.loads(line)


def fit_line(x: list[float], y: list[float]) -> str:
    """``a + b·x`` by least squares, with R² (needs ≥ 2 points)."""
    if len(x) < 2:
        return "(one point: no fit)"
    b, a = np.polyfit(np.asarray(x, float), np.asarray(y, float), 1)
    pred = a + b * np.asarray(x, float)
    ss = float(np.sum((np.asarray(y) - np.mean(y)) ** 2))
    r2 = 1 - float(np.sum((np.asarray(y) - pred) ** 2)) / ss if ss > 0 else 1.0
    return f"{a:9.2f} + {b:9.3f} per M rows   (R² {r2:.3f})"


# --- the models step, run in its own process so that its peak RSS is its own -----------------------


def models_step(ws_root: str, users: int, calls: int, batch: int, models: list[str]) -> None:
    from threadpoolctl import threadpool_limits

    from animerec.data.catalog import Catalog
    from animerec.data.ratings import Ratings, histories_from_ratings
    from animerec.recommend.registry import make_recommender
    from animerec.workspace import Workspace

    ws = Workspace(Path(ws_root))
    catalog = Catalog.read(ws.anime)
    ratings = Ratings.read(ws.ratings)
    ids, histories = histories_from_ratings(ratings)
    pick = np.random.default_rng(0).integers(0, len(histories), size=users)
    out: dict[str, dict[str, float]] = {}
    for name in models:
        params = {"threads": 0} if name == "als" else {}
        t0 = time.perf_counter()
        model = make_recommender(name, **params).fit(ratings, catalog)
        fit_s = time.perf_counter() - t0
        if name == "als":
            model.model.num_threads = 1  # serving: one thread per process (as in the server)
        with threadpool_limits(1):
            for i in range(20):
                model.recommend([histories[pick[i]]], 10)
            times = np.empty(calls)
            for i in range(calls):
                h = histories[pick[(i + 20) % users]]
                t = time.perf_counter()
                model.recommend([h], 10)
                times[i] = time.perf_counter() - t
            t = time.perf_counter()
            for s in range(0, users, batch):
                model.recommend([histories[j] for j in pick[s : s + batch]], 10)
            batch_s = time.perf_counter() - t
        out[name] = {
            "fit_s": fit_s,
            "p50_ms": float(np.percentile(times, 50) * 1000),
            "p99_ms": float(np.percentile(times, 99) * 1000),
            "users_per_s": users / batch_s,
            "batch_s": batch_s,
        }
        del model
    out["_"] = {
        "users": users,
        "ratings": len(ratings),
        "anime": int(len(np.unique(ratings.anime_id))),
    }
    print(json.dumps(out))


def encode_step(ns: list[int], seq: int = 128, batch_size: int = 32) -> None:
    """texts/s of torch fp32 and ONNX int8 MiniLM at each text count, and the line fits."""
    from encode_speed import descriptions

    from animerec.embed import get_embedder

    texts = descriptions(SAMPLE, max(ns), seed=0)
    emb = {b: get_embedder("minilm", max_seq_length=seq, backend=b) for b in ("torch", "onnx-int8")}
    for e in emb.values():
        e.progress = False
        e.encode(texts[:batch_size], batch_size)  # load, export, quantise: outside the timings
    rows = {b: [] for b in emb}
    print(f"\nencode (minilm@{seq}, batch {batch_size})")
    print(
        f"{'texts':>7} {'torch s':>8} {'int8 s':>8} {'torch t/s':>9} {'int8 t/s':>9} {'ratio':>6} load"
    )
    for n in ns:
        secs = {}
        for b, e in emb.items():
            t = time.perf_counter()
            e.encode(texts[:n], batch_size)
            secs[b] = time.perf_counter() - t
            rows[b].append(secs[b])
        print(
            f"{n:>7} {secs['torch']:8.1f} {secs['onnx-int8']:8.1f} {n / secs['torch']:9.1f} "
            f"{n / secs['onnx-int8']:9.1f} {secs['torch'] / secs['onnx-int8']:5.2f}x {load()}",
            flush=True,
        )
    for b in emb:
        b_, a_ = np.polyfit(ns, rows[b], 1)
        print(f"  {b:9s} seconds ≈ {a_:.2f} + {b_ * 1000:.2f} per 1000 texts")


# --- the driver ---------------------------------------------------------------------------------


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_models":
        a = sys.argv[2:]
        return models_step(a[0], int(a[1]), int(a[2]), int(a[3]), a[4].split(","))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scales", type=float, nargs="+", default=[1, 4, 16])
    ap.add_argument("--steps", default=",".join(STEPS))
    ap.add_argument("--engine", default="embedded", choices=["embedded", "spark"])
    ap.add_argument("--master", default=None)
    ap.add_argument("--models", default="als,ease")
    ap.add_argument("--users", type=int, default=100_000, help="histories recommended in batch")
    ap.add_argument("--calls", type=int, default=300, help="single-user calls timed")
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--encode-n", type=int, nargs="+", default=[64, 256, 1024])
    ap.add_argument("--tmp", type=Path, default=None, help="scratch folder (default: a temp dir)")
    args = ap.parse_args()
    steps = [s.strip() for s in args.steps.split(",") if s.strip()]
    print(f"load average at start {load()}; {os.cpu_count()} cores", flush=True)

    root = Path(tempfile.mkdtemp(prefix="animerec-scale-", dir=args.tmp))
    bin_ = str(Path(sys.executable).with_name("animerec"))
    engine = ["--engine", args.engine] + (["--master", args.master] if args.master else [])
    results: dict[str, list[tuple[float, float, float]]] = {}
    per_size = [s for s in steps if s != "encode"]
    try:
        for scale in args.scales if per_size else []:
            data, ws = root / "data", root / "ws"
            data.mkdir()
            for f in ("anime.csv", "anime_with_synopsis.csv"):
                shutil.copy(SAMPLE / f, data / f)
            t = time.perf_counter()
            rows = synth_ratings(round(scale * SAMPLE_ROWS), data / "rating_complete.csv")
            print(
                f"\n== {scale:g}× the sample: {rows:,} ratings (synth {time.perf_counter() - t:.0f} s)"
            )
            m = rows / 1e6
            if per_size:  # every other step reads the ingested workspace
                s, g = timed([bin_, "ingest", "--data", str(data), "-w", str(ws), *engine])
                results.setdefault(f"ingest ({args.engine})", []).append((m, s, g))
                print(f"ingest   {s:8.1f} s  {g:5.2f} GiB  load {load()}", flush=True)
            if "labels" in steps:
                s, g = timed([bin_, "labels", "-w", str(ws), *engine])
                results.setdefault(f"labels ({args.engine})", []).append((m, s, g))
                print(f"labels   {s:8.1f} s  {g:5.2f} GiB  load {load()}", flush=True)
            if "models" in steps:
                s, g, out = timed_json(
                    [sys.executable, __file__, "_models", str(ws), str(args.users),
                     str(args.calls), str(args.batch), args.models]
                )  # fmt: skip
                print(f"models process {s:.1f} s, peak {g:.2f} GiB; {out.pop('_')}")
                results.setdefault("models process", []).append((m, s, g))
                for name, r in out.items():
                    results.setdefault(f"{name} fit", []).append((m, r["fit_s"], None))
                    results.setdefault(f"{name} p99 ms", []).append((m, r["p99_ms"], None))
                    results.setdefault(f"{name} users/s", []).append((m, r["users_per_s"], None))
                    print(
                        f"{name:5s} fit {r['fit_s']:7.1f} s  p50 {r['p50_ms']:6.2f} ms  "
                        f"p99 {r['p99_ms']:6.2f} ms  batch {r['users_per_s']:8.0f} users/s "
                        f"({args.users:,} users in {r['batch_s']:.0f} s)  load {load()}",
                        flush=True,
                    )
            shutil.rmtree(data)
            shutil.rmtree(ws, ignore_errors=True)
        if results:
            print("\nline fits over the sizes (x = millions of ratings)")
            for step, pts in results.items():
                x = [p[0] for p in pts]
                what = "value" if step.endswith(("ms", "users/s")) else "time "
                print(f"  {step:18s} {what} ≈ {fit_line(x, [p[1] for p in pts])}")
                if pts[0][2] is not None:
                    print(f"  {step:18s} GiB   ≈ {fit_line(x, [p[2] for p in pts])}")
        if "encode" in steps:
            encode_step(args.encode_n)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
