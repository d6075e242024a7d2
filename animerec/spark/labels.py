"""Pair labels on Spark: the counts of :mod:`animerec.labels` from a self-join on user.

Spark does the part that grows with the ratings — every co-rated pair of every user, grouped by
pair — and the driver finishes the part that does not: the pair table is bounded by the catalog
(≤ n_anime² / 2 rows, ~11 M for all of MAL at ≥ 20 co-raters), so the shares, Jaccard, labels and
split come from :func:`animerec.labels.labels_frame` itself, streamed part by part. The two engines
therefore agree on every count exactly and on every score bit for bit.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from animerec.data.nps import DETRACTOR_MAX, PROMOTER_MIN
from animerec.data.ratings import Ratings
from animerec.labels import LabelSettings, PairCounts, labels_frame

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

COUNT_COLUMNS = [
    "anime_a",
    "anime_b",
    "n_corated",
    "n_agree",
    "n_disagree",
    "n_promoters_a",
    "n_promoters_b",
]


def read_ratings(spark: SparkSession, ratings: str | os.PathLike[str] | DataFrame) -> DataFrame:
    """The workspace's ``ratings.parquet`` (or a DataFrame already holding those columns)."""
    if isinstance(ratings, str | os.PathLike):
        ratings = spark.read.parquet(Path(ratings).resolve().as_uri())
    return ratings.select("user_id", "anime_id", "rating")


def distinct_users(spark: SparkSession, ratings: str | os.PathLike[str] | DataFrame) -> np.ndarray:
    """Sorted distinct user ids — all the driver needs to draw the protocol's training users."""
    df = read_ratings(spark, ratings).select("user_id").distinct().toPandas()
    return np.sort(df["user_id"].to_numpy(np.int64))


def users_ratings(user_ids: np.ndarray) -> Ratings:
    """One placeholder row per user: enough for :func:`protocol_split`'s user draw (it looks at
    the distinct ids only) and for ``Ratings.users``, without the ratings on the driver."""
    u = np.asarray(user_ids, dtype=np.int64)
    return Ratings.from_arrays(u, np.zeros(len(u), np.int64), np.ones(len(u), np.int8))


def pair_counts_frame(
    spark: SparkSession,
    ratings: str | os.PathLike[str] | DataFrame,
    users: np.ndarray | None,
    min_corated: int = 20,
) -> DataFrame:
    """Counts (:data:`COUNT_COLUMNS`) of every pair with ≥ ``min_corated`` co-raters, sorted.

    Same definitions as :func:`animerec.labels.iter_pair_counts`: ``users`` None means every user.
    """
    from pyspark.sql import functions as F

    if min_corated < 1:
        raise ValueError(f"min_corated must be ≥ 1, got {min_corated}")
    r = read_ratings(spark, ratings)
    if users is not None:
        u = pd.DataFrame({"user_id": np.unique(np.asarray(users, dtype=np.int64))})
        r = r.join(F.broadcast(spark.createDataFrame(u)), "user_id", "left_semi")
    # Passives (7–8) are no co-raters; p = 1 promoter (9–10), 0 detractor (≤ 6).
    promoter = F.col("rating") >= PROMOTER_MIN
    polar = r.where(promoter | (F.col("rating") <= DETRACTOR_MAX)).select(
        "user_id", "anime_id", promoter.cast("int").alias("p")
    )
    cand = (
        polar.groupBy("anime_id")
        .agg(F.count(F.lit(1)).alias("n"), F.sum("p").alias("n_prom"))
        .where(F.col("n") >= min_corated)
        .select("anime_id", F.col("n_prom").cast("long").alias("n_prom"))
    )
    x = polar.join(F.broadcast(cand.select("anime_id")), "anime_id", "left_semi")
    a = x.select("user_id", F.col("anime_id").alias("anime_a"), F.col("p").alias("pa"))
    b = x.select("user_id", F.col("anime_id").alias("anime_b"), F.col("p").alias("pb"))
    pairs = (
        a.join(b, "user_id")
        .where(F.col("anime_a") < F.col("anime_b"))
        .groupBy("anime_a", "anime_b")
        .agg(
            F.count(F.lit(1)).alias("n_corated"),
            F.sum(F.col("pa") * F.col("pb")).cast("long").alias("n_agree"),
            F.sum((F.col("pa") != F.col("pb")).cast("int")).cast("long").alias("n_disagree"),
        )
        .where(F.col("n_corated") >= min_corated)
    )
    prom_a = cand.select(F.col("anime_id").alias("anime_a"), F.col("n_prom").alias("n_promoters_a"))
    prom_b = cand.select(F.col("anime_id").alias("anime_b"), F.col("n_prom").alias("n_promoters_b"))
    return (
        pairs.join(F.broadcast(prom_a), "anime_a")
        .join(F.broadcast(prom_b), "anime_b")
        .select(*COUNT_COLUMNS)
        .orderBy("anime_a", "anime_b")
    )


def iter_pair_counts(
    spark: SparkSession,
    ratings: str | os.PathLike[str] | DataFrame,
    users: np.ndarray | None,
    min_corated: int = 20,
    *,
    scratch: str | os.PathLike[str] | None = None,
    batch_rows: int = 1 << 20,
) -> Iterator[PairCounts]:
    """:func:`pair_counts_frame` brought to the driver in sorted batches of ``batch_rows`` pairs.

    Spark writes the sorted counts as Parquet parts under ``scratch`` (a folder the driver and
    the executors both see; default: a temporary folder), read back here in order, then removed.
    """
    counts = pair_counts_frame(spark, ratings, users, min_corated)
    root = Path(tempfile.mkdtemp(prefix=".spark-pairs.", dir=scratch))
    try:
        out = root / "counts"
        counts.write.parquet(out.resolve().as_uri())
        last: tuple[int, int] | None = None
        for part in sorted(out.glob("part-*.parquet")):
            for batch in pq.ParquetFile(part).iter_batches(batch_rows, columns=COUNT_COLUMNS):
                cols = {c: batch.column(c).to_numpy().astype(np.int64) for c in COUNT_COLUMNS}
                if len(cols["anime_a"]) == 0:
                    continue
                first = (int(cols["anime_a"][0]), int(cols["anime_b"][0]))
                if last is not None and first <= last:  # parts must follow each other in order
                    raise RuntimeError(f"Spark wrote the pair parts out of order at {part.name}")
                last = (int(cols["anime_a"][-1]), int(cols["anime_b"][-1]))
                yield PairCounts(**cols)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def iter_pair_labels(
    spark: SparkSession,
    ratings: str | os.PathLike[str] | DataFrame,
    users: np.ndarray | None,
    settings: LabelSettings | None = None,
    *,
    scratch: str | os.PathLike[str] | None = None,
) -> Iterator[pd.DataFrame]:
    """The pair table (:data:`animerec.labels.COLUMNS`) in sorted pieces, as the embedded
    :func:`animerec.labels.iter_pair_labels` yields it."""
    settings = settings or LabelSettings()
    for c in iter_pair_counts(spark, ratings, users, settings.min_corated, scratch=scratch):
        yield labels_frame(c, settings)


def pair_labels(
    spark: SparkSession,
    ratings: str | os.PathLike[str] | DataFrame,
    users: np.ndarray | None,
    settings: LabelSettings | None = None,
    *,
    scratch: str | os.PathLike[str] | None = None,
) -> pd.DataFrame:
    """The whole pair table at once (small data and tests), equal to the embedded engine's."""
    settings = settings or LabelSettings()
    parts = list(iter_pair_counts(spark, ratings, users, settings.min_corated, scratch=scratch))
    return labels_frame(PairCounts.concat(parts), settings)
