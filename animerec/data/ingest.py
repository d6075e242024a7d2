"""Raw MAL files → a workspace of Parquet tables, with every bad row counted and kept aside.

The ratings are streamed: pyarrow parses the CSV in blocks and validates each block with vectorised
kernels, valid rows go to a staging Parquet file, and DuckDB (with a memory limit, spilling to disk)
removes duplicates and sorts. Nothing holds a Python object per rating, so the full 57 M-row file
ingests in bounded memory.
"""

from __future__ import annotations

import csv
import errno
import gzip
import os
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from animerec.data.catalog import CATALOG_COLUMNS
from animerec.data.ingest_files import find_inputs, publish, stage
from animerec.data.schema import (
    ANIME_COLUMNS,
    ANIMELIST_COLUMNS,
    COMPLETED_STATUS,
    MISSING,
    RATING_COLUMNS,
    SYNOPSIS_COLUMNS,
    Column,
    resolve_columns,
)
from animerec.errors import DataError
from animerec.workspace import Workspace, fingerprint_files

REJECT_FIELDS = ("file", "row", "reason", "value")
_INT_RE = r"^\s*[+-]?[0-9]{1,18}\s*$"


@dataclass
class IngestSettings:
    """Knobs for big files; the defaults keep the full 57 M-row ratings under ~4 GiB."""

    memory_limit: str = "2GB"
    threads: int | None = None
    block_size: int = 64 << 20


@dataclass
class IngestSummary:
    data_dir: str
    files: dict[str, int]
    anime: int
    with_synopsis: int
    ratings: int
    users: int
    rated_anime: int
    rejects: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    fingerprint: str = ""

    @property
    def n_rejects(self) -> int:
        return sum(self.rejects.values())


class _Rejects:
    """Streams rejected rows to a CSV and counts them by (file, reason)."""

    def __init__(self, path: Path) -> None:
        self._f = path.open("w", newline="")
        self._w = csv.writer(self._f)
        self._w.writerow(REJECT_FIELDS)
        self.counts: Counter[str] = Counter()

    def add(self, file: str, rows, reasons, values) -> None:
        for r, why, v in zip(rows, reasons, values, strict=True):
            self._w.writerow((file, r, why, v))
            self.counts[f"{file}: {why}"] += 1

    def close(self) -> None:
        self._f.close()


# --- the catalog --------------------------------------------------------------------------------


MAX_FIELD = 16 << 20
"""The longest field a catalog CSV may hold (Python's csv module stops at 128 KiB otherwise)."""


def _read_text_csv(path: Path, rejects: _Rejects) -> pd.DataFrame:
    """A small CSV read as strings (nothing converted), indexed by data row number (1-based).

    A row with more or fewer fields than the header is rejected ("wrong number of fields"),
    not fatal; an empty file, a repeated header name, text that is not UTF-8 or broken
    quoting stop the ingest with one line naming the file.
    """
    csv.field_size_limit(MAX_FIELD)
    good: list[list[str]] = []
    numbers: list[int] = []
    bad: list[tuple[int, str]] = []
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", newline="", encoding="utf-8-sig") as f:
            records = csv.reader(f)
            header = next(records, None)
            if header is None:
                raise DataError(f"{path}: the file is empty")
            names = [h.strip() for h in header]
            twice = next((h for h in names if names.count(h) > 1), None)
            if twice is not None:
                raise DataError(
                    f"{path}: column {twice!r} appears {names.count(twice)} times in the header"
                )
            for number, rec in enumerate((r for r in records if r), start=1):
                if len(rec) == len(header):
                    good.append(rec)
                    numbers.append(number)
                else:
                    bad.append((number, ",".join(rec)))
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason}); save it as UTF-8"
        ) from None
    except (csv.Error, gzip.BadGzipFile, EOFError) as exc:
        raise DataError(f"{path}: cannot parse as CSV ({exc})") from None
    if bad:
        rejects.add(path.name, [n for n, _ in bad], ["wrong number of fields"] * len(bad),
                    [v for _, v in bad])  # fmt: skip
    return pd.DataFrame(good, columns=header, index=pd.Index(numbers, dtype=np.int64), dtype=str)


def _convert(values: pd.Series, kind: str) -> pd.Series:
    s = values.str.strip()
    s = s.mask((s == "") | (s == MISSING))
    if kind == "int":
        return pd.to_numeric(s, errors="coerce").round().astype("Int64")
    if kind == "float":
        return pd.to_numeric(s, errors="coerce").astype("Float64")
    return s.astype("string")


def _valid_ids(path: Path, df: pd.DataFrame, id_col: str, rejects: _Rejects) -> pd.DataFrame:
    """Keep rows with an integer, first-seen id; reject the others with the reason."""
    raw = df[id_col].str.strip()
    ids = pd.to_numeric(raw.where(raw.str.fullmatch(r"[0-9]{1,18}")), errors="coerce")
    bad = ids.isna()
    dup = ~bad & ids.duplicated()
    rows = df.index.to_numpy()  # data row numbers, as read
    for mask, why in ((bad, f"{id_col} is not a whole number"), (dup, f"duplicate {id_col}")):
        if mask.any():
            rejects.add(path.name, rows[mask.to_numpy()], [why] * int(mask.sum()), raw[mask])
    keep = ~(bad | dup)
    out = df[keep].copy()
    out[id_col] = ids[keep].astype(np.int64)
    return out


def _select(path: Path, df: pd.DataFrame, spec: tuple[Column, ...]) -> pd.DataFrame:
    found = resolve_columns(path, list(df.columns), spec)
    id_name = found["anime_id"]
    out = pd.DataFrame({"anime_id": df[id_name].to_numpy(np.int64)})
    for col in spec:
        if col.target == "anime_id":
            continue
        src = found.get(col.target)
        out[col.target] = (
            _convert(df[src].reset_index(drop=True), col.kind)
            if src is not None
            else pd.Series(pd.NA, index=out.index, dtype="Int64" if col.kind == "int" else "string")
        )
    return out


def read_catalog(anime_path: Path, synopsis_path: Path | None, rejects: _Rejects) -> pd.DataFrame:
    """The catalog table: anime.csv's columns renamed, synopsis merged in, ``Unknown`` → null."""
    raw = _read_text_csv(anime_path, rejects)
    resolve_columns(anime_path, list(raw.columns), ANIME_COLUMNS)  # fail early, naming the column
    if raw.empty:
        raise DataError(f"{anime_path}: no data rows")
    anime = _select(
        anime_path, _valid_ids(anime_path, raw, _header(raw, "MAL_ID"), rejects), ANIME_COLUMNS
    )
    anime["synopsis"] = pd.Series(pd.NA, index=anime.index, dtype="string")
    if synopsis_path is not None:
        sraw = _read_text_csv(synopsis_path, rejects)
        resolve_columns(synopsis_path, list(sraw.columns), SYNOPSIS_COLUMNS)
        syn = _select(
            synopsis_path,
            _valid_ids(synopsis_path, sraw, _header(sraw, "MAL_ID"), rejects),
            SYNOPSIS_COLUMNS,
        )
        unknown = ~syn["anime_id"].isin(anime["anime_id"])
        if unknown.any():
            rows = np.flatnonzero(unknown.to_numpy()) + 1
            rejects.add(
                synopsis_path.name,
                rows,
                ["MAL_ID not in anime.csv"] * len(rows),
                syn["anime_id"][unknown],
            )
        anime["synopsis"] = (
            anime["anime_id"].map(syn.set_index("anime_id")["synopsis"]).astype("string")
        )
    return anime[CATALOG_COLUMNS].sort_values("anime_id", kind="stable").reset_index(drop=True)


def _header(df: pd.DataFrame, name: str) -> str:
    return next(h for h in df.columns if h.strip() == name)


# --- ratings ------------------------------------------------------------------------------------


def read_header(path: Path, columns: Sequence[str]) -> list[str]:
    """The CSV header's column names (plain or compressed file); a one-line error naming the file
    when it cannot be read, is empty, or lacks one of ``columns``."""
    try:
        with pa.input_stream(str(path), compression="detect") as probe:
            first = probe.read(1 << 16)
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc})") from None
    if not first.strip():
        raise DataError(f"{path}: the file is empty")
    header = first.decode("utf-8", "replace").removeprefix("\ufeff").splitlines()[0]
    names = [h.strip().strip('"') for h in header.split(",")]
    missing = [c for c in columns if c not in names]
    if missing:
        raise DataError(f"{path}: missing required column {missing[0]!r}")
    twice = [c for c in columns if names.count(c) > 1]
    if twice:  # which of the two is meant? refuse rather than guess
        raise DataError(
            f"{path}: column {twice[0]!r} appears {names.count(twice[0])} times in the header"
        )
    return names


def _stream_ratings(
    path: Path,
    columns: tuple[str, ...],
    source: int,
    catalog_ids: pa.Array,
    writer: pq.ParquetWriter,
    rejects: _Rejects,
    skipped: Counter[str],
    settings: IngestSettings,
) -> None:
    """Validate ``path`` block by block; append good rows to the staging ``writer``."""
    bad_shape: list[tuple[int | None, str]] = []

    def on_invalid(row) -> str:
        bad_shape.append((row.number, row.text))
        return "skip"

    names = read_header(path, columns)  # a clear error before pyarrow sees the file

    # Read as Latin-1 (every byte is a character): a cell or a whole row that is not UTF-8 is
    # then a rejected row, where UTF-8 decoding would fail the whole file (the numbers this
    # file holds are ASCII either way). The header is skipped and named from read_header, which
    # also drops a byte-order mark.
    stream = pa.transcoding_input_stream(
        pa.input_stream(str(path), compression="detect"),
        src_encoding="latin-1",
        dest_encoding="utf-8",
    )
    reader = pacsv.open_csv(
        stream,
        read_options=pacsv.ReadOptions(
            block_size=settings.block_size, use_threads=True, skip_rows=1, column_names=names
        ),
        parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid),
        convert_options=pacsv.ConvertOptions(
            include_columns=list(columns), column_types={c: pa.binary() for c in columns}
        ),
    )
    offset = 0
    for batch in reader:
        n = batch.num_rows
        rows = pa.array(np.arange(offset + 1, offset + n + 1, dtype=np.int64))
        offset += n
        ok = pa.array(np.ones(n, dtype=bool))
        reason = pa.nulls(n, pa.string())
        parsed: dict[str, pa.Array] = {}
        for c in columns:
            col = batch.column(c)
            is_int = pc.fill_null(pc.match_substring_regex(col, _INT_RE), False)
            reason = pc.if_else(
                pc.and_(ok, pc.invert(is_int)), f"{c} is not a whole number", reason
            )
            ok = pc.and_(ok, is_int)
            ascii_int = pc.cast(pc.if_else(is_int, col, pa.scalar(None, pa.binary())), pa.string())
            digits = pc.utf8_trim_whitespace(ascii_int)
            # arrow's int cast refuses a leading '+', which the whole-number check allows
            digits = pc.replace_substring_regex(digits, r"^\+", "")
            parsed[c] = pc.cast(digits, pa.int64())
        value_col = "score" if "score" in parsed else "rating"
        value = parsed[value_col]
        if source == 1:  # animelist: keep scored, completed entries; the rest is not a rating
            keep_entry = pc.fill_null(
                pc.and_(
                    pc.greater(value, 0), pc.equal(parsed["watching_status"], COMPLETED_STATUS)
                ),
                False,
            )
            dropped = pc.and_(ok, pc.invert(keep_entry))
            skipped["animelist.csv: not scored or not completed"] += pc.sum(dropped).as_py() or 0
            ok = pc.and_(ok, keep_entry)
        in_range = pc.fill_null(
            pc.and_(pc.greater_equal(value, 1), pc.less_equal(value, 10)), False
        )
        reason = pc.if_else(pc.and_(ok, pc.invert(in_range)), f"{value_col} outside 1-10", reason)
        ok = pc.and_(ok, in_range)
        known = pc.is_in(parsed["anime_id"], value_set=catalog_ids)
        reason = pc.if_else(pc.and_(ok, pc.invert(known)), "anime_id not in anime.csv", reason)
        ok = pc.and_(ok, known)
        bad = pc.and_(pc.invert(ok), pc.is_valid(reason))
        if pc.any(bad).as_py():
            raw = pc.binary_join_element_wise(
                *[batch.column(c) for c in columns], pa.scalar(b",", pa.binary())
            )
            rejects.add(
                path.name,
                rows.filter(bad).to_pylist(),
                reason.filter(bad).to_pylist(),
                [
                    v.decode("utf-8", "replace")
                    for v in pc.fill_null(raw, b"").filter(bad).to_pylist()
                ],
            )
        good = pa.table(
            {
                "ord": pc.add(rows.filter(ok), source << 40),
                "user_id": parsed["user_id"].filter(ok),
                "anime_id": parsed["anime_id"].filter(ok),
                "rating": pc.cast(value.filter(ok), pa.int8()),
            }
        )
        writer.write_table(good)
    if bad_shape:
        rejects.add(
            path.name,
            [n if n is not None else "" for n, _ in bad_shape],
            ["wrong number of fields"] * len(bad_shape),
            [t for _, t in bad_shape],
        )


STAGING_SCHEMA = pa.schema(
    [("ord", pa.int64()), ("user_id", pa.int64()), ("anime_id", pa.int64()), ("rating", pa.int8())]
)


def _dedupe_and_sort(
    staging: Path,
    out: Path,
    rejects: _Rejects,
    skipped: Counter[str],
    settings: IngestSettings,
    tmp: Path,
) -> None:
    """Keep the first row of each (user, anime) — rating_complete before animelist — sorted."""
    con = duckdb.connect(
        config={"memory_limit": settings.memory_limit, "temp_directory": str(tmp / "duckdb")}
    )
    try:
        con.execute("SET preserve_insertion_order = false")
        if settings.threads:
            con.execute(f"SET threads = {int(settings.threads)}")
        src = f"read_parquet('{staging}')"
        dups = con.execute(
            f"""
            WITH d AS (SELECT user_id, anime_id, min(ord) AS keep FROM {src}
                       GROUP BY user_id, anime_id HAVING count(*) > 1)
            SELECT s.ord >> 40 AS source, s.ord & ((1::BIGINT << 40) - 1) AS row, d.keep >> 40 AS kept_source,
                   s.user_id, s.anime_id, s.rating
            FROM {src} s JOIN d USING (user_id, anime_id) WHERE s.ord <> d.keep ORDER BY s.ord
            """  # nosec B608  # our own temp file paths, no outside input
        ).fetchnumpy()
        if len(dups["row"]):
            src_name = np.where(dups["source"] == 0, "rating_complete.csv", "animelist.csv")
            merged = (dups["source"] == 1) & (dups["kept_source"] == 0)
            skipped["animelist.csv: already in rating_complete.csv"] += int(merged.sum())
            real = ~merged
            vals = [
                f"{u},{a},{r}"
                for u, a, r in zip(
                    dups["user_id"][real], dups["anime_id"][real], dups["rating"][real], strict=True
                )
            ]
            for name in np.unique(src_name[real]):
                m = src_name[real] == name
                rejects.add(
                    str(name),
                    dups["row"][real][m].tolist(),
                    ["duplicate user_id/anime_id (first kept)"] * int(m.sum()),
                    [v for v, keep in zip(vals, m, strict=True) if keep],
                )
        con.execute(
            f"""
            COPY (SELECT user_id, anime_id, arg_min(rating, ord)::TINYINT AS rating FROM {src}
                  GROUP BY user_id, anime_id ORDER BY user_id, anime_id)
            TO '{out}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 1000000)
            """  # nosec B608  # our own temp file paths, no outside input
        )
    finally:
        con.close()


# --- the whole ingest ---------------------------------------------------------------------------


def ingest(
    data_dir: str | os.PathLike[str], workspace: Workspace, settings: IngestSettings | None = None
) -> IngestSummary:
    """Read the MAL files in ``data_dir`` into ``workspace``; returns what was read and rejected.

    Missing files or required columns raise :class:`DataError` before anything is written; bad
    rows go to ``rejects.csv`` with the file, row (1-based, header excluded) and reason.
    """
    settings = settings or IngestSettings()
    t0 = time.perf_counter()
    data_dir = Path(data_dir)
    files = find_inputs(data_dir)
    anime_path, synopsis_path = files.anime, files.synopsis
    rating_path, animelist_path, inputs = files.ratings, files.animelist, files.paths

    workspace.root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".ingest.", dir=workspace.root))
    publishing = False
    try:
        rejects = _Rejects(tmp / "rejects.csv")
        skipped: Counter[str] = Counter()
        try:
            catalog = read_catalog(anime_path, synopsis_path, rejects)
            catalog_ids = pa.array(catalog["anime_id"].to_numpy(np.int64))
            staging = tmp / "staging.parquet"
            with pq.ParquetWriter(staging, STAGING_SCHEMA) as writer:
                if rating_path is not None:
                    _stream_ratings(
                        rating_path,
                        RATING_COLUMNS,
                        0,
                        catalog_ids,
                        writer,
                        rejects,
                        skipped,
                        settings,
                    )
                if animelist_path is not None:
                    _stream_ratings(
                        animelist_path,
                        ANIMELIST_COLUMNS,
                        1,
                        catalog_ids,
                        writer,
                        rejects,
                        skipped,
                        settings,
                    )
            _dedupe_and_sort(staging, tmp / "ratings.parquet", rejects, skipped, settings, tmp)
        finally:
            rejects.close()
        ratings = pq.read_table(tmp / "ratings.parquet", columns=["user_id", "anime_id"])
        if ratings.num_rows == 0:
            raise DataError(f"{rating_path or animelist_path}: no valid ratings (see the rejects)")
        summary = IngestSummary(
            data_dir=str(data_dir.resolve()),
            files={p.name: p.stat().st_size for p in inputs},
            anime=len(catalog),
            with_synopsis=int(catalog["synopsis"].notna().sum()),
            ratings=ratings.num_rows,
            users=len(pc.unique(ratings.column("user_id"))),
            rated_anime=len(pc.unique(ratings.column("anime_id"))),
            rejects=dict(sorted(rejects.counts.items())),
            skipped=dict(sorted(skipped.items())),
            fingerprint=fingerprint_files(inputs),
        )
        del ratings
        # Everything is written in the temporary folder first (a full disk stops us there, with
        # the old workspace untouched); publishing is renames only, the manifest last.
        stage(tmp, catalog, summary, t0)
        publishing = True
        publish(workspace, tmp)
        return summary
    except OSError as exc:
        if not _disk_full(exc):
            raise
        where = (
            "while publishing: some artefacts may be new, the manifest is the old one; "
            "free space and run ingest again"
            if publishing
            else "before publishing anything: the previous workspace is unchanged"
        )
        raise DataError(f"{workspace.root}: no space left on device ({where})") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _disk_full(exc: OSError) -> bool:
    # pyarrow reports a full disk as an OSError whose errno may be unset; its text says so.
    return exc.errno in (errno.ENOSPC, errno.EDQUOT) or "No space left on device" in str(exc)
