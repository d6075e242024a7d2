"""Ingest: broken files give clear errors or counted rejects; the real sample ingests whole."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import pandas as pd
import pytest

from animerec.data.catalog import CATALOG_COLUMNS, Catalog
from animerec.data.ingest import ingest
from animerec.data.ratings import Ratings
from animerec.errors import DataError
from animerec.workspace import Workspace

ANIME_HEADER = (
    "MAL_ID,Name,Score,Genres,English name,Japanese name,Type,Episodes,Aired,Premiered,"
    "Producers,Licensors,Studios,Source,Duration,Rating,Ranked,Popularity,Members,Favorites"
)


def anime_row(mal_id, name, type_="TV", genres="Action, Drama"):
    return [mal_id, name, "8.5", genres, "Unknown", "x", type_, "12", "2001", "Spring 2001",
            "Aniplex", "Unknown", "Sunrise", "Original", "24 min.", "PG-13", "10", "100", "5000", "10"]  # fmt: skip


def write_csv(path: Path, header, rows) -> Path:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header.split(",") if isinstance(header, str) else header)
        w.writerows(rows)
    return path


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    write_csv(
        d / "anime.csv",
        ANIME_HEADER,
        [anime_row(1, "Alpha"), anime_row(2, "Beta", "Movie"), anime_row(3, "Gamma")],
    )
    write_csv(
        d / "anime_with_synopsis.csv",
        "MAL_ID,Name,Score,Genres,sypnopsis",
        [
            [1, "Alpha", "8.5", "Action", "A story."],
            [
                2,
                "Beta",
                "8",
                "Drama",
                "No synopsis information has been added to this title. Help improve our database by adding a synopsis here .",
            ],
        ],
    )
    write_csv(
        d / "rating_complete.csv",
        "user_id,anime_id,rating",
        [[10, 1, 9], [10, 2, 7], [11, 1, 3], [11, 3, 10]],
    )
    return d


def test_ingest_writes_catalog_and_ratings(data_dir: Path, tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    s = ingest(data_dir, ws)
    assert (s.anime, s.ratings, s.users, s.n_rejects) == (3, 4, 2, 0)
    cat = Catalog.read(ws.anime)
    assert list(cat.frame.columns) == CATALOG_COLUMNS
    assert cat.frame["english_name"].isna().all()  # "Unknown" became missing
    assert cat.frame.set_index("anime_id").loc[1, "synopsis"] == "A story."
    assert pd.isna(cat.frame.set_index("anime_id").loc[3, "synopsis"])  # not in the synopsis file
    r = Ratings.read(ws.ratings)
    assert list(zip(r.user_id, r.anime_id, r.rating, strict=True)) == [
        (10, 1, 9),
        (10, 2, 7),
        (11, 1, 3),
        (11, 3, 10),
    ]
    assert ws.read_manifest()["ingest"]["ratings"] == 4


def test_bad_rating_rows_are_rejected_with_reason_and_row(data_dir: Path, tmp_path: Path) -> None:
    write_csv(
        data_dir / "rating_complete.csv",
        "user_id,anime_id,rating",
        [
            [10, 1, 9],
            ["ten", 2, 7],
            [10, "x", 5],
            [10, 2, 11],
            [10, 2, 0],
            [10, 99, 8],
            [10, 1, 4],
            [12, 3, "8.5"],
            [12, 3, 8],
            [" +13", "1", " +10 "],
        ],
    )
    ws = Workspace(tmp_path / "ws")
    s = ingest(data_dir, ws)
    assert s.ratings == 3  # (10, 1, 9), (12, 3, 8) and (13, 1, 10): a '+' sign and spaces are fine
    rejects = pd.read_csv(ws.rejects, dtype=str)
    got = {(int(r.row), r.reason) for r in rejects.itertuples()}
    assert got == {
        (2, "user_id is not a whole number"),
        (3, "anime_id is not a whole number"),
        (4, "rating outside 1-10"),
        (5, "rating outside 1-10"),
        (6, "anime_id not in anime.csv"),
        (7, "duplicate user_id/anime_id (first kept)"),
        (8, "rating is not a whole number"),
    }
    assert set(rejects["file"]) == {"rating_complete.csv"}
    assert s.n_rejects == 7 and s.rejects["rating_complete.csv: rating outside 1-10"] == 2
    r = Ratings.read(ws.ratings)
    assert r.rating[(r.user_id == 10) & (r.anime_id == 1)].tolist() == [9]  # the first one was kept


def test_bad_anime_rows_are_rejected(data_dir: Path, tmp_path: Path) -> None:
    rows = [
        anime_row(1, "Alpha"),
        anime_row("abc", "Broken"),
        anime_row(1, "Alpha again"),
        anime_row(3, "Gamma"),
    ]
    write_csv(data_dir / "anime.csv", ANIME_HEADER, rows)
    ws = Workspace(tmp_path / "ws")
    s = ingest(data_dir, ws)
    assert s.anime == 2
    assert s.rejects["anime.csv: MAL_ID is not a whole number"] == 1
    assert s.rejects["anime.csv: duplicate MAL_ID"] == 1
    # anime 2 is gone from the catalog, so its rating and its synopsis row are rejects too
    assert s.rejects["rating_complete.csv: anime_id not in anime.csv"] == 1
    assert s.rejects["anime_with_synopsis.csv: MAL_ID not in anime.csv"] == 1


def test_missing_column_names_file_and_column(data_dir: Path, tmp_path: Path) -> None:
    write_csv(data_dir / "rating_complete.csv", "user_id,anime,rating", [[1, 1, 9]])
    with pytest.raises(
        DataError, match=r"rating_complete\.csv: missing required column 'anime_id'"
    ):
        ingest(data_dir, Workspace(tmp_path / "ws"))
    assert not (tmp_path / "ws" / "ratings.parquet").exists()


def test_missing_anime_column(data_dir: Path, tmp_path: Path) -> None:
    header = ANIME_HEADER.replace("Studios", "Studio")
    write_csv(data_dir / "anime.csv", header, [anime_row(1, "Alpha")])
    with pytest.raises(DataError, match=r"anime\.csv: missing required column 'Studios'"):
        ingest(data_dir, Workspace(tmp_path / "ws"))


def test_missing_and_empty_files(data_dir: Path, tmp_path: Path) -> None:
    (data_dir / "anime_with_synopsis.csv").unlink()
    with pytest.raises(DataError, match=r"anime_with_synopsis\.csv: file not found"):
        ingest(data_dir, Workspace(tmp_path / "ws"))
    write_csv(data_dir / "anime_with_synopsis.csv", "MAL_ID,synopsis", [])
    (data_dir / "rating_complete.csv").write_text("")
    with pytest.raises(DataError, match=r"rating_complete\.csv: the file is empty"):
        ingest(data_dir, Workspace(tmp_path / "ws"))


def test_nothing_half_written_on_failure(data_dir: Path, tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    ingest(data_dir, ws)
    before = ws.ratings.read_bytes()
    write_csv(data_dir / "rating_complete.csv", "user_id,anime_id,rating", [["a", "b", "c"]])
    with pytest.raises(DataError, match="no valid ratings"):
        ingest(data_dir, ws)
    assert ws.ratings.read_bytes() == before  # the old workspace is intact
    assert not [p for p in ws.root.iterdir() if p.name.startswith(".")]  # no temp left behind


def test_variants_gzip_genders_and_animelist(data_dir: Path, tmp_path: Path) -> None:
    text = (data_dir / "anime.csv").read_text().replace("Genres", "Genders", 1)
    (data_dir / "anime.csv").unlink()
    with gzip.open(data_dir / "anime.csv.gz", "wt") as f:
        f.write(text)
    syn = (data_dir / "anime_with_synopsis.csv").read_text().replace("sypnopsis", "synopsis")
    (data_dir / "anime_with_synopsis.csv").write_text(syn)
    write_csv(
        data_dir / "animelist.csv",
        "user_id,anime_id,score,watching_status,watched_episodes",
        [
            [10, 1, 9, 2, 12],
            [10, 3, 8, 2, 12],
            [13, 2, 0, 2, 1],
            [13, 3, 7, 1, 3],
            [13, 1, 6, 2, 12],
        ],
    )
    ws = Workspace(tmp_path / "ws")
    s = ingest(data_dir, ws)
    cat = Catalog.read(ws.anime)
    assert cat.frame["genres"].tolist()[0] == "Action, Drama"
    # kept: 4 from rating_complete + (10, 3, 8) and (13, 1, 6) from animelist
    assert s.ratings == 6
    assert s.skipped["animelist.csv: not scored or not completed"] == 2
    assert s.skipped["animelist.csv: already in rating_complete.csv"] == 1
    assert s.n_rejects == 0


def test_real_sample_counts_match_its_readme(sample_workspace: Workspace) -> None:
    m = sample_workspace.read_manifest()["ingest"]
    assert (m["anime"], m["ratings"], m["users"], m["rated_anime"]) == (
        17_562,
        278_462,
        1_455,
        10_025,
    )
    assert m["rejects"] == {}
    cat = Catalog.read(sample_workspace.anime)
    synopses = cat.frame["synopsis"].dropna()
    placeholder = synopses.str.startswith("No synopsis information has been added")
    assert (
        int((~placeholder).sum()) >= 15_450
    )  # README: 15,461 real synopses (a few are empty strings)
    hentai = cat.frame["genres"].fillna("").str.contains("Hentai")
    assert cat.frame.loc[hentai, "synopsis"].isna().all()  # left out of the synopsis file
