"""Full-size synthetic ratings with the real sample's distributions (for scale benchmarks only).

Users' rating counts, anime popularity and the rating-value distribution are drawn from the shared
sample, so the synthetic file stresses ingest, labels and fitting the way the full 57 M-row
``rating_complete.csv`` would. Written to a temporary folder by the benchmarks; never committed.

    python benchmarks/synth.py --rows 57000000 --out /tmp/animerec-bench/rating_complete.csv
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

SAMPLE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mal-2020-sample"


def synth_ratings(
    n_rows: int, out: Path, *, sample_dir: Path = SAMPLE, seed: int = 0, chunk_users: int = 20_000
) -> int:
    """Write ``~n_rows`` ratings (sorted by user, like the real file) to ``out``; returns rows written."""
    t = pacsv.read_csv(sample_dir / "rating_complete.csv")
    user = t.column("user_id").to_numpy()
    anime = t.column("anime_id").to_numpy()
    rating = t.column("rating").to_numpy()
    per_user = np.bincount(np.unique(user, return_inverse=True)[1])
    items, item_counts = np.unique(anime, return_counts=True)
    p_item = item_counts / item_counts.sum()
    values, value_counts = np.unique(rating, return_counts=True)
    p_value = value_counts / value_counts.sum()

    rng = np.random.default_rng(seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    schema = pa.schema([("user_id", pa.int64()), ("anime_id", pa.int64()), ("rating", pa.int64())])
    written, next_user = 0, 0
    with out.open("wb") as f:
        f.write(b"user_id,anime_id,rating\n")
        with pacsv.CSVWriter(
            f, schema, write_options=pacsv.WriteOptions(include_header=False)
        ) as w:
            while written < n_rows:
                c = np.minimum(rng.choice(per_user, size=chunk_users), len(items) // 2)
                u = np.repeat(np.arange(next_user, next_user + chunk_users), c)
                next_user += chunk_users
                a = rng.choice(items, size=len(u), p=p_item)
                # one rating per (user, anime): drop repeats drawn for the same user
                _, first = np.unique(u.astype(np.int64) * 100_000 + a, return_index=True)
                first = np.sort(first)[: n_rows - written]
                r = rng.choice(values, size=len(first), p=p_value)
                w.write_table(
                    pa.table(
                        {"user_id": u[first], "anime_id": a[first], "rating": r}, schema=schema
                    )
                )
                written += len(first)
    return written


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=57_000_000)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    t0 = time.perf_counter()
    n = synth_ratings(args.rows, args.out, seed=args.seed)
    print(f"wrote {n:,} ratings to {args.out} in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
