"""``animerec ingest --engine spark``: the embedded ingest's rules, with Spark reading the ratings.

The small anime files go through the embedded reader (:func:`animerec.data.ingest.read_catalog`),
so the catalog table is the same object. The ratings — the part that grows to hundreds of millions
of rows — are split, validated, de-duplicated and sorted by Spark with the embedded rules, row for
row: the same reasons in the same order of checks, the first (user, anime) row kept
(``rating_complete.csv`` before ``animelist.csv``), the same row numbers (1-based, header, blank
and malformed lines not counted; a malformed line's number is left empty, as pyarrow leaves it).

Spark has no line numbers, so each line gets its place from the file split it was read from
(``input_file_block_start``) and its position inside that split (``monotonically_increasing_id``),
and only the rejected lines — normally none — are numbered exactly, on the driver.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from animerec.data.ingest import IngestSummary, _Rejects, read_catalog, read_header
from animerec.data.ingest_files import find_inputs, publish, stage
from animerec.data.schema import (
    ANIMELIST_COLUMNS,
    COMPLETED_STATUS,
    RATING_COLUMNS,
)
from animerec.errors import DataError
from animerec.workspace import Workspace, fingerprint_files

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

# pyarrow's (RE2's) \s is [\t\n\f\r ]; Java's \s also matches \x0B, so spell the class out.
_WS = "[\\t\\n\\f\\r ]"
_INT_RE = f"^{_WS}*[+-]?[0-9]{{1,18}}{_WS}*$"
_QUOTED = '"([^"]|"")*"'

# What happened to a line (the staging table's ``kind``).
GOOD, REJECT, BAD_SHAPE, BLANK, SKIPPED = 0, 1, 2, 3, 4
RATINGS_SCHEMA = pa.schema(
    [("user_id", pa.int64()), ("anime_id", pa.int64()), ("rating", pa.int8())]
)


def _uri(path: Path) -> str:
    return path.resolve().as_uri()


def _header(path: Path, columns: tuple[str, ...]) -> list[str]:
    """The header's column names, with the embedded ingest's checks and messages."""

    return read_header(path, columns)


def _lines(spark: SparkSession, path: Path) -> DataFrame:
    """Every line of ``path`` with ``g``, its 0-based place in the file (the header is 0)."""
    from pyspark.sql import functions as F

    raw = spark.read.text(_uri(path)).select(
        "value",
        F.input_file_block_start().alias("blk"),
        F.monotonically_increasing_id().alias("mid"),
    )
    # Inside one split the ids are consecutive; splits follow each other in file order.
    blocks = raw.groupBy("blk").agg(F.min("mid").alias("lo"), F.count(F.lit(1)).alias("n"))
    b = blocks.toPandas().sort_values("blk")
    offset = np.concatenate([[0], np.cumsum(b["n"].to_numpy(np.int64))[:-1]])
    base = spark.createDataFrame(
        [(int(k), int(o - lo)) for k, o, lo in zip(b["blk"], offset, b["lo"], strict=True)],
        "blk long, base long",
    )
    return raw.join(F.broadcast(base), "blk").select(
        "value", (F.col("base") + F.col("mid")).alias("g")
    )


def _fields(names: list[str]) -> tuple[Column, list[Column]]:
    """(number of CSV fields, the fields as strings) of ``value``, quotes as pyarrow reads them."""
    from pyspark.sql import functions as F

    value = F.col("value")
    quoted = value.contains('"')
    n_fields = F.size(F.split(F.regexp_replace(value, _QUOTED, ""), ",", -1))
    plain = F.split(value, ",", -1)
    schema = ", ".join(f"c{i} string" for i in range(len(names)))
    parsed = F.from_csv(value, schema, {"escape": '"', "mode": "PERMISSIVE"})
    cols = [
        F.when(quoted, F.coalesce(parsed[f"c{i}"], F.lit(""))).otherwise(F.get(plain, i))
        for i in range(len(names))
    ]
    return n_fields, cols


def _stage_file(
    spark: SparkSession,
    path: Path,
    columns: tuple[str, ...],
    source: int,
    catalog_ids: DataFrame,
    out: Path,
) -> None:
    """Validate every line of ``path`` and write it, classified, to the Parquet folder ``out``."""
    from pyspark.sql import functions as F

    names = _header(path, columns)
    n_fields, fields = _fields(names)
    lines = _lines(spark, path).where(F.col("g") > 0)  # the header
    raw = {c: fields[names.index(c)] for c in columns}
    df = lines.select(
        "g", "value", n_fields.alias("nf"), *(raw[c].alias(f"s_{c}") for c in columns)
    )

    ok = F.lit(True)
    reason = F.lit(None).cast("string")
    parsed = {}
    for c in columns:
        s = F.col(f"s_{c}")
        is_int = s.rlike(_INT_RE)
        reason = F.when(ok & ~is_int, F.lit(f"{c} is not a whole number")).otherwise(reason)
        ok = ok & is_int
        parsed[c] = F.when(is_int, F.regexp_replace(s, f"^{_WS}+|{_WS}+$", "").cast("long"))
    value_col = "score" if "score" in parsed else "rating"
    value = parsed[value_col]
    skip = F.lit(False)
    if source == 1:  # animelist: keep scored, completed entries; the rest is not a rating
        keep = F.coalesce(
            (value > 0) & (parsed["watching_status"] == COMPLETED_STATUS), F.lit(False)
        )
        skip = ok & ~keep
        ok = ok & keep
    in_range = F.coalesce((value >= 1) & (value <= 10), F.lit(False))
    reason = F.when(ok & ~in_range, F.lit(f"{value_col} outside 1-10")).otherwise(reason)
    ok = ok & in_range
    known = F.col("known").isNotNull()
    reason = F.when(ok & ~known, F.lit("anime_id not in anime.csv")).otherwise(reason)
    ok = ok & known

    blank = F.col("value") == ""
    bad_shape = F.col("nf") != len(names)
    kind = (
        F.when(blank, BLANK)
        .when(bad_shape, BAD_SHAPE)
        .when(ok, GOOD)
        .when(skip, SKIPPED)
        .otherwise(REJECT)
    )
    joined = df.withColumn("p_anime", parsed["anime_id"]).join(
        F.broadcast(catalog_ids), F.col("p_anime") == F.col("known"), "left"
    )
    staged = joined.select(
        "g",
        kind.cast("tinyint").alias("kind"),
        parsed["user_id"].alias("user_id"),
        F.col("p_anime").alias("anime_id"),
        F.when(ok, value.cast("tinyint")).alias("rating"),
        F.when(~blank & ~bad_shape & ~ok & ~skip, reason).alias("reason"),
        F.when(blank, None)
        .when(bad_shape, F.col("value"))
        .when(~ok & ~skip, F.concat_ws(",", *(F.col(f"s_{c}") for c in columns)))
        .alias("raw"),
    )
    staged.write.parquet(_uri(out))


def _rejects_of(spark: SparkSession, staged: Path, name: str, rejects: _Rejects) -> np.ndarray:
    """Write one file's validation rejects (in row order, then malformed lines, as the embedded
    ingest does); return the places ``g`` of the lines that are no rows, sorted."""
    from pyspark.sql import functions as F

    s = spark.read.parquet(_uri(staged))
    uncounted = (
        s.where(F.col("kind").isin(BLANK, BAD_SHAPE)).select("g").toPandas()["g"].to_numpy(np.int64)
    )
    uncounted = np.sort(np.append(uncounted, 0))  # the header is no row either
    bad = s.where(F.col("kind").isin(REJECT, BAD_SHAPE)).select("g", "kind", "reason", "raw")
    bad = bad.toPandas().sort_values("g")
    counted = bad[bad["kind"] == REJECT]
    rejects.add(name, _rows(counted["g"].to_numpy(np.int64), uncounted).tolist(),
                counted["reason"].tolist(), counted["raw"].tolist())  # fmt: skip
    shape = bad[bad["kind"] == BAD_SHAPE]
    rejects.add(
        name, [""] * len(shape), ["wrong number of fields"] * len(shape), shape["raw"].tolist()
    )
    return uncounted


def _rows(g: np.ndarray, uncounted: np.ndarray) -> np.ndarray:
    """1-based row numbers of counted lines at places ``g``: lines before them, less the uncounted."""
    return g + 1 - np.searchsorted(uncounted, g, side="left")


def ingest(
    data_dir: str | os.PathLike[str], workspace: Workspace, spark: SparkSession
) -> IngestSummary:
    """:func:`animerec.data.ingest.ingest` with Spark doing the ratings; the same files come out.

    ``data_dir`` and the workspace must be folders both this process and Spark's executors see
    (any local path in local mode; a shared filesystem on a cluster).
    """
    from pyspark.sql import functions as F

    t0 = time.perf_counter()
    data_dir = Path(data_dir)
    files = find_inputs(data_dir)
    anime_path, synopsis_path = files.anime, files.synopsis
    rating_path, animelist_path, inputs = files.ratings, files.animelist, files.paths
    sources = [
        (i, p, cols)
        for i, (p, cols) in enumerate(
            ((rating_path, RATING_COLUMNS), (animelist_path, ANIMELIST_COLUMNS))
        )
        if p is not None
    ]

    workspace.root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".ingest-spark.", dir=workspace.root))
    try:
        rejects = _Rejects(tmp / "rejects.csv")
        skipped: Counter[str] = Counter()
        try:
            catalog = read_catalog(anime_path, synopsis_path, rejects)
            ids = catalog["anime_id"].to_numpy(np.int64)
            catalog_ids = spark.createDataFrame([(int(a),) for a in ids], "known long")
            good = []
            uncounted: dict[int, np.ndarray] = {}
            for source, path, cols in sources:
                staged = tmp / f"staged-{source}"
                _stage_file(spark, path, cols, source, catalog_ids, staged)
                uncounted[source] = _rejects_of(spark, staged, path.name, rejects)
                s = spark.read.parquet(_uri(staged))
                if source == 1:
                    n_skip = s.where(F.col("kind") == SKIPPED).count()
                    if n_skip:
                        skipped["animelist.csv: not scored or not completed"] += n_skip
                good.append(
                    s.where(F.col("kind") == GOOD).select(
                        (F.lit(source << 40) + F.col("g")).alias("ord"),
                        "user_id",
                        "anime_id",
                        "rating",
                    )
                )
            staging = good[0] if len(good) == 1 else good[0].unionByName(good[1])
            _dedupe_and_sort(spark, staging, tmp, rejects, skipped, uncounted)
        finally:
            rejects.close()
        out = spark.read.parquet(_uri(tmp / "ratings-parts"))
        n, users, rated = out.agg(
            F.count(F.lit(1)), F.countDistinct("user_id"), F.countDistinct("anime_id")
        ).first()
        if n == 0:
            raise DataError(f"{rating_path or animelist_path}: no valid ratings (see the rejects)")
        _merge_parts(tmp / "ratings-parts", tmp / "ratings.parquet")
        summary = IngestSummary(
            data_dir=str(data_dir.resolve()),
            files={p.name: p.stat().st_size for p in inputs},
            anime=len(catalog),
            with_synopsis=int(catalog["synopsis"].notna().sum()),
            ratings=int(n),
            users=int(users),
            rated_anime=int(rated),
            rejects=dict(sorted(rejects.counts.items())),
            skipped=dict(sorted(skipped.items())),
            fingerprint=fingerprint_files(inputs),
        )
        stage(tmp, catalog, summary, t0, engine="spark")
        publish(workspace, tmp)
        return summary
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _dedupe_and_sort(
    spark: SparkSession,
    staging: DataFrame,
    tmp: Path,
    rejects: _Rejects,
    skipped: Counter[str],
    uncounted: dict[int, np.ndarray],
) -> None:
    """Keep the first row of each (user, anime), sorted, as Parquet parts in ``tmp/ratings-parts``."""
    from pyspark.sql import functions as F

    staging.write.parquet(_uri(tmp / "good"))
    good = spark.read.parquet(_uri(tmp / "good"))
    keep = (
        good.groupBy("user_id", "anime_id")
        .agg(F.min("ord").alias("keep"), F.count(F.lit(1)).alias("n"))
        .where(F.col("n") > 1)
        .select("user_id", "anime_id", "keep")
    )
    dups = (
        good.join(keep, ["user_id", "anime_id"])
        .where(F.col("ord") != F.col("keep"))
        .select("ord", "keep", "user_id", "anime_id", "rating")
        .toPandas()
        .sort_values("ord")
    )
    if len(dups):
        ord_ = dups["ord"].to_numpy(np.int64)
        source, g = ord_ >> 40, ord_ & ((1 << 40) - 1)
        merged = (source == 1) & ((dups["keep"].to_numpy(np.int64) >> 40) == 0)
        skipped["animelist.csv: already in rating_complete.csv"] += int(merged.sum())
        names = np.where(source == 0, "rating_complete.csv", "animelist.csv")
        for name in np.unique(names[~merged]):
            m = ~merged & (names == name)
            src = 0 if name == "rating_complete.csv" else 1
            vals = [f"{u},{a},{r}" for u, a, r in zip(dups["user_id"][m], dups["anime_id"][m], dups["rating"][m], strict=True)]  # fmt: skip
            rejects.add(
                str(name),
                _rows(g[m], uncounted[src]).tolist(),
                ["duplicate user_id/anime_id (first kept)"] * int(m.sum()),
                vals,
            )
    (
        good.groupBy("user_id", "anime_id")
        .agg(F.min_by("rating", "ord").cast("tinyint").alias("rating"))
        .orderBy("user_id", "anime_id")
        .write.parquet(_uri(tmp / "ratings-parts"))
    )


def _merge_parts(parts: Path, out: Path, batch_rows: int = 1_000_000) -> None:
    """Spark's sorted part files → one Parquet file (the workspace's layout), streamed in order."""
    with pq.ParquetWriter(out, RATINGS_SCHEMA, compression="zstd") as w:
        last = None
        for part in sorted(parts.glob("part-*.parquet")):
            for batch in pq.ParquetFile(part).iter_batches(
                batch_rows, columns=RATINGS_SCHEMA.names
            ):
                if batch.num_rows == 0:
                    continue
                t = pa.Table.from_batches([batch]).cast(RATINGS_SCHEMA)
                first = (t["user_id"][0].as_py(), t["anime_id"][0].as_py())
                if last is not None and first <= last:
                    raise RuntimeError(f"Spark wrote the rating parts out of order at {part.name}")
                last = (t["user_id"][-1].as_py(), t["anime_id"][-1].as_py())
                w.write_table(t, row_group_size=batch_rows)
