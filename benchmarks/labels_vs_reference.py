"""Pair labels vs the book's per-pair method: exact agreement on sampled pairs, and time per pair.

The reference is the book's ``anime_pair_scores`` (notebook 07) reimplemented in pandas: filter the
training ratings to the two anime, keep users who rated both with a non-zero NPS, compare the
shares of promoted-both and promoted-one-detracted-other (over all co-raters, DESIGN §4). It runs
on the real sample's training users (protocol split) beside ``animerec.labels.pair_labels``, on
pairs that pass ``--min-corated`` and pairs that don't; every count, share, score and Jaccard must
be identical (``==``, no tolerance). The notebook's own normalisation (shares over the two kinds
only, ``None`` under 50 rows or when one kind is missing) is checked too, from the table's counts.

``--scale-rows N`` also runs the real ``animerec labels`` command on N synthetic ratings drawn with
the sample's distributions (benchmarks/synth.py's recipe, kept in memory and written to a temporary
workspace, never the repo) under ``/usr/bin/time -v``: wall time and peak RSS at full size.

    python benchmarks/labels_vs_reference.py                          # the sample, 250 pairs
    python benchmarks/labels_vs_reference.py --pairs 400 --seed 1
    python benchmarks/labels_vs_reference.py --scale-rows 57000000    # + the full-size run
"""

from __future__ import annotations

import argparse
import math
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from animerec.data.ratings import Ratings
from animerec.data.split import protocol_split
from animerec.labels import LabelSettings, pair_labels

SAMPLE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mal-2020-sample"
# The book's map: 10–9 promoters (1), 8–7 passives (0), the rest detractors (−1).
SCORE_MAP = {10: 1, 9: 1, 8: 0, 7: 0, 6: -1, 5: -1, 4: -1, 3: -1, 2: -1, 1: -1, 0: -1}


def book_pair(train: pd.DataFrame, a1: int, a2: int) -> tuple[int, int, int, float, float, float]:
    """One pair, the book's way: a full scan of the ratings for the two anime.

    Returns (co-raters, promoted both, promoted one & detracted the other, agree, disagree, score).
    """
    a = train[train["anime_id"].isin([a1, a2])]
    a = a[a["nps_score"] != 0]
    a = a[a.duplicated(subset=["user_id"], keep=False)].sort_values("user_id")  # rated both
    per_user = a.groupby("user_id", group_keys=True)["nps_score"].apply(lambda s: tuple(sorted(s)))
    counts = per_user.value_counts()
    shares = per_user.value_counts(normalize=True)
    agree, disagree = shares.get((1, 1), 0.0), shares.get((-1, 1), 0.0)
    score = agree if agree > disagree else -1 * disagree
    return (
        len(per_user),
        int(counts.get((1, 1), 0)),
        int(counts.get((-1, 1), 0)),
        float(agree),
        float(disagree),
        float(score),
    )


def book_notebook_score(train: pd.DataFrame, a1: int, a2: int) -> float | None:
    """The notebook's exact normalisation: shares over promoted-both and disagreeing users only."""
    a = train[train["anime_id"].isin([a1, a2])]
    a = a[a["nps_score"] != 0]
    if a.shape[0] < 50:  # need at least 50 rows
        return None
    a = a[a.duplicated(subset=["user_id"], keep=False)].sort_values("user_id")
    per_user = a.groupby("user_id", group_keys=True)["nps_score"].apply(lambda s: tuple(sorted(s)))
    two = per_user[per_user.isin([(-1, 1), (1, 1)])].value_counts(normalize=True)
    if len(two) != 2:
        return None
    disagree, agree = two.sort_index().tolist()
    return agree if agree > disagree else -1 * disagree


def set_jaccard(train: pd.DataFrame, a1: int, a2: int) -> float:
    """Jaccard of the two promoter sets, with Python sets."""
    prom = train[train["rating"] >= 9]
    pa = set(prom.loc[prom["anime_id"] == a1, "user_id"])
    pb = set(prom.loc[prom["anime_id"] == a2, "user_id"])
    return len(pa & pb) / len(pa | pb) if pa | pb else 0.0


def notebook_from_counts(n_agree: int, n_dis: int, rows: int) -> float | None:
    """What the notebook returns, derived from the table's counts (rows = non-zero ratings of a, b)."""
    if rows < 50 or n_agree == 0 or n_dis == 0:
        return None
    agree, disagree = n_agree / (n_agree + n_dis), n_dis / (n_agree + n_dis)
    return agree if agree > disagree else -1 * disagree


def compare(args: argparse.Namespace) -> dict[str, float]:
    df = pd.read_csv(
        args.data / "rating_complete.csv",
        dtype={"user_id": "int64", "anime_id": "int64", "rating": "int64"},
    )
    ratings = Ratings.from_arrays(df.user_id, df.anime_id, df.rating)
    train_users = protocol_split(ratings).train_users
    train = df[df["user_id"].isin(train_users)].copy()
    train["nps_score"] = train["rating"].map(SCORE_MAP)
    settings = LabelSettings(min_corated=args.min_corated)
    print(
        f"{len(df):,} ratings; {len(train_users):,} training users, {len(train):,} of their ratings"
    )

    # Ours: every pair at once (median of --repeat runs, from the Ratings to the finished table).
    walls = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        ours = pair_labels(ratings, train_users, settings)
        walls.append(time.perf_counter() - t0)
    wall = float(np.median(walls))
    loose = pair_labels(ratings, train_users, LabelSettings(min_corated=1))
    polar = train[train["nps_score"] != 0].groupby("anime_id").size()
    n_candidates = int((polar >= args.min_corated).sum())
    candidate_pairs = math.comb(n_candidates, 2)
    rated_pairs = math.comb(train["anime_id"].nunique(), 2)

    # Sample: pairs that pass, pairs with co-raters that don't, pairs with none at all.
    rng = np.random.default_rng(args.seed)
    n_fail = max(args.pairs // 5, 1)
    n_pass = args.pairs - n_fail
    passing = ours.iloc[np.sort(rng.choice(len(ours), n_pass, replace=False))]
    few = loose[loose.n_corated < args.min_corated]
    failing = few.iloc[np.sort(rng.choice(len(few), n_fail - n_fail // 5, replace=False))]
    anime = np.sort(train["anime_id"].unique())
    known = set(zip(loose.anime_a, loose.anime_b, strict=True))
    none: list[tuple[int, int]] = []
    while len(none) < n_fail // 5:
        a, b = sorted(int(x) for x in rng.choice(anime, 2, replace=False))
        if (a, b) not in known:
            none.append((a, b))
    sampled = (
        [(int(r.anime_a), int(r.anime_b), r) for r in passing.itertuples()]
        + [(int(r.anime_a), int(r.anime_b), r) for r in failing.itertuples()]
        + [(a, b, None) for a, b in none]
    )

    table = ours.set_index(["anime_a", "anime_b"])
    ref_times, n_checked_nb, n_nb_scores = [], 0, 0
    for a, b, row in sampled:
        t0 = time.perf_counter()
        n, n_agree, n_dis, agree, disagree, score = book_pair(train, a, b)
        ref_times.append(time.perf_counter() - t0)
        kept = (a, b) in table.index
        assert kept == (n >= args.min_corated), (a, b, n)
        if row is None:
            assert n == 0, (a, b, n)
            continue
        assert (row.n_corated, row.n_agree, row.n_disagree) == (n, n_agree, n_dis), (a, b)
        assert (row.agree, row.disagree, row.score) == (agree, disagree, score), (a, b)
        assert row.jaccard == set_jaccard(train, a, b), (a, b)
        nb = book_notebook_score(train, a, b)
        assert nb == notebook_from_counts(n_agree, n_dis, int(polar[a] + polar[b])), (a, b)
        n_checked_nb += 1
        n_nb_scores += nb is not None
    ref = float(np.mean(ref_times))

    print(
        f"\nexact agreement on {len(sampled)} pairs ({n_pass} kept, {len(failing)} with "
        f"< {args.min_corated} co-raters, {len(none)} with none): counts, agree, disagree, score, "
        f"Jaccard all identical; the notebook's own normalisation matches on {n_checked_nb} "
        f"({n_nb_scores} scored, the rest None)"
    )
    per_cand, per_kept = wall / candidate_pairs, wall / len(ours)
    print(
        f"\nours: {wall:.3f} s for all pairs (median of {args.repeat}); {len(ours):,} pairs kept, "
        f"{candidate_pairs:,} candidate pairs ({n_candidates:,} anime with ≥ {args.min_corated} "
        f"non-zero raters), {rated_pairs:,} pairs of rated anime"
    )
    print(
        f"reference: {ref * 1e3:.2f} ms per pair (mean of {len(sampled)}), "
        f"median {np.median(ref_times) * 1e3:.2f} ms"
    )
    print("\n| per pair | ours | reference | ratio |\n|---|---:|---:|---:|")
    print(
        f"| over the {candidate_pairs:,} candidate pairs | {per_cand * 1e6:.3f} µs | "
        f"{ref * 1e3:.2f} ms | {ref / per_cand:,.0f}× |"
    )
    print(
        f"| over the {len(ours):,} kept pairs only | {per_kept * 1e6:.2f} µs | "
        f"{ref * 1e3:.2f} ms | {ref / per_kept:,.0f}× |"
    )
    print(
        f"| whole table (the reference extrapolated over the candidate pairs) | {wall:.2f} s | "
        f"{ref * candidate_pairs / 3600:.1f} h | {ref * candidate_pairs / wall:,.0f}× |"
    )
    return {"ratio_candidates": ref / per_cand, "ratio_kept": ref / per_kept}


def synthetic(n_rows: int, seed: int, sample: Path) -> pd.DataFrame:
    """Ratings with the sample's per-user counts, anime popularity and rating values."""
    t = pd.read_csv(sample / "rating_complete.csv")
    per_user = t.groupby("user_id").size().to_numpy()
    items, item_counts = np.unique(t["anime_id"], return_counts=True)
    values, value_counts = np.unique(t["rating"], return_counts=True)
    rng = np.random.default_rng(seed)
    n_users = int(n_rows / per_user.mean() * 1.15)  # repeats are dropped below
    c = np.minimum(rng.choice(per_user, n_users), len(items) // 2)
    u = np.repeat(np.arange(n_users, dtype=np.int64), c)
    a = rng.choice(items, len(u), p=item_counts / item_counts.sum())
    _, first = np.unique(u * 100_000 + a, return_index=True)  # one rating per (user, anime)
    first = np.sort(first)[:n_rows]
    r = rng.choice(values, len(first), p=value_counts / value_counts.sum()).astype(np.int8)
    return pd.DataFrame({"user_id": u[first], "anime_id": a[first], "rating": r})


def scale(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="animerec-labels-bench-"))
    try:
        t0 = time.perf_counter()
        frame = synthetic(args.scale_rows, args.seed, args.data)
        frame.to_parquet(tmp / "ratings.parquet", index=False)
        n_rows, n_users = len(frame), frame["user_id"].nunique()
        del frame
        print(
            f"\nsynthetic: {n_rows:,} ratings of {n_users:,} users "
            f"({time.perf_counter() - t0:.0f} s to make)"
        )
        cmd = [
            sys.executable,
            "-c",
            "from animerec.cli import main; main()",
            "labels",
            "-w",
            str(tmp),
            "--min-corated",
            str(args.min_corated),
        ]
        p = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True)
        if p.returncode != 0:
            raise SystemExit(f"animerec labels failed:\n{p.stderr[-3000:]}")
        wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", p.stderr)[1]
        rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)[1])
        cpu = sum(
            float(re.search(rf"{k} time \(seconds\): (\S+)", p.stderr)[1])
            for k in ("User", "System")
        )
        summary = pd.read_json(tmp / "labels" / "summary.json", typ="series")
        print(
            f"animerec labels (train users): wall {wall}, CPU {cpu:.0f} s, "
            f"peak RSS {rss / 2**20:.2f} GiB, "
            f"{summary['pairs']:,} pairs ({summary['positive']:,} positive, "
            f"{summary['negative']:,} negative) over {summary['anime_in_pairs']:,} anime, "
            f"{summary['users_used']:,} users"
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=SAMPLE, help="folder with rating_complete.csv")
    ap.add_argument("--pairs", type=int, default=250, help="pairs to check (≥ 200)")
    ap.add_argument("--min-corated", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=5, help="runs of the all-pairs computation")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--scale-rows", type=int, default=0, help="also run at this many ratings")
    args = ap.parse_args()
    compare(args)
    if args.scale_rows:
        scale(args)


if __name__ == "__main__":
    main()
