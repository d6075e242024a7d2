"""Spark ingest: the embedded ingest's tables, rejects and summary on a broken fixture."""

from __future__ import annotations

import gzip
import shutil
from dataclasses import asdict
from pathlib import Path

import pandas as pd
import pytest

from animerec.data.ingest import ingest as embedded_ingest
from animerec.errors import DataError
from animerec.spark.ingest import ingest as spark_ingest
from animerec.workspace import Workspace

RATINGS = (
    "user_id,anime_id,rating\n"
    "1,1,9\n1,5,8\n\n"  # a blank line is no row
    "2,1,3,4\n"  # too many fields
    "x,1,5\n2, 5 ,11\n2,5,0\n3,99999999,8\n"  # not a number, out of range ×2, unknown anime
    "1,1,4\n"  # duplicate of row 1
    '"4","5","10"\n'  # quoted fields are fine
    "4,6,\n5,6, 7\n5,1,9.5\n\n6,1\n7,1,10\n"
)
ANIMELIST = (
    "user_id,anime_id,score,watching_status,watched_episodes\n"
    "1,1,9,2,1\n"  # already in rating_complete.csv
    "7,5,8,2,1\n8,5,0,2,1\n8,6,9,1,1\n"  # kept; not scored; not completed
    "8,1,10,2,3\n8,1,9,2,3\n9,1,q,2,3\n"  # kept; duplicate; not a number
)


@pytest.fixture
def broken(sample_data: Path, tmp_path: Path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    for name in ("anime.csv", "anime_with_synopsis.csv"):
        shutil.copy(sample_data / name, d / name)
    (d / "rating_complete.csv").write_text(RATINGS)
    with gzip.open(d / "animelist.csv.gz", "wt") as f:
        f.write(ANIMELIST)
    return d


def both(data: Path, tmp_path: Path, spark) -> tuple[Workspace, Workspace, dict, dict]:
    e, s = Workspace(tmp_path / "ws-embedded"), Workspace(tmp_path / "ws-spark")
    se, ss = asdict(embedded_ingest(data, e)), asdict(spark_ingest(data, s, spark))
    se.pop("seconds"), ss.pop("seconds")
    return e, s, se, ss


def test_same_tables_rejects_and_summary(broken: Path, tmp_path: Path, spark) -> None:
    e, s, se, ss = both(broken, tmp_path, spark)
    assert ss == se
    assert ss["ratings"] == 7 and ss["skipped"] == {
        "animelist.csv: already in rating_complete.csv": 1,
        "animelist.csv: not scored or not completed": 2,
    }
    pd.testing.assert_frame_equal(pd.read_parquet(s.ratings), pd.read_parquet(e.ratings))
    pd.testing.assert_frame_equal(pd.read_parquet(s.anime), pd.read_parquet(e.anime))
    read = lambda ws: pd.read_csv(ws.rejects, dtype=str, keep_default_na=False)  # noqa: E731
    pd.testing.assert_frame_equal(read(s), read(e))  # same rows, numbers, reasons and order
    rejects = read(s)
    rows = dict(zip(rejects["value"], rejects["row"], strict=True))
    # row numbers skip the header, blank and malformed lines, as the embedded ingest counts them
    assert rows["x,1,5"] == "3" and rows["5,1,9.5"] == "11" and rows["1,1,4"] == "7"
    assert rows["2,1,3,4"] == ""  # malformed: no row number
    assert s.read_manifest()["engine"] == "spark"
    assert not [p for p in s.root.iterdir() if p.name.startswith(".")]  # no scratch left


def test_same_errors(broken: Path, tmp_path: Path, spark) -> None:
    (broken / "rating_complete.csv").write_text("user_id,anime,rating\n1,1,9\n")
    with pytest.raises(
        DataError, match=r"rating_complete\.csv: missing required column 'anime_id'"
    ):
        spark_ingest(broken, Workspace(tmp_path / "ws"), spark)
    (broken / "rating_complete.csv").write_text("user_id,anime_id,rating\nq,1,9\n")
    (broken / "animelist.csv.gz").unlink()
    with pytest.raises(DataError, match="no valid ratings"):
        spark_ingest(broken, Workspace(tmp_path / "ws"), spark)
    assert not (tmp_path / "ws" / "ratings.parquet").exists()


def test_row_numbers_across_file_splits(broken: Path, tmp_path: Path, spark) -> None:
    """A file read as many splits numbers its rows as one sequential reader does."""
    lines = ["user_id,anime_id,rating"]
    for i in range(3000):
        u, a = 1 + i // 40, (1, 5, 6, 7, 8, 15, 16, 17, 18, 19)[i % 10] + 20 * ((i // 10) % 4)
        lines.append(f"{u},{a},{1 + i % 10}")
        if i % 97 == 0:
            lines.append("")  # blank: not a row
        if i % 211 == 0:
            lines.append(f"{u},x,{i % 10}")  # rejected: its number must match
        if i % 307 == 0:
            lines.append(f"{u},{a},5,1")  # malformed: not a row
        if i % 401 == 0:
            lines.append(f"{u},{a},9")  # duplicate of the row above
    (broken / "rating_complete.csv").write_text("\n".join(lines) + "\n")
    (broken / "animelist.csv.gz").unlink()
    old = spark.conf.get("spark.sql.files.maxPartitionBytes")
    spark.conf.set("spark.sql.files.maxPartitionBytes", "4096")  # ~10 splits of one file
    try:
        assert spark.read.text(str(broken / "rating_complete.csv")).rdd.getNumPartitions() > 5
        e, s, se, ss = both(broken, tmp_path, spark)
    finally:
        spark.conf.set("spark.sql.files.maxPartitionBytes", old)
    assert ss == se
    read = lambda ws: pd.read_csv(ws.rejects, dtype=str, keep_default_na=False)  # noqa: E731
    assert len(read(e)) > 20
    pd.testing.assert_frame_equal(read(s), read(e))
    pd.testing.assert_frame_equal(pd.read_parquet(s.ratings), pd.read_parquet(e.ratings))
