"""Feedback storage: SQLite in WAL mode, upserts, persistence across app restarts, Kaggle export."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from serve_data import SERVE_MODELS, new_user, write_tiny_data
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from typer.testing import CliRunner

from animerec.serve.db import API_USER_OFFSET, FEEDBACK_DB, FeedbackStore, Rating
from animerec.workspace import Workspace


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    store = FeedbackStore(f"sqlite:///{tmp_path / 'f.db'}")
    with store.engine.connect() as con:
        assert con.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert con.execute(text("PRAGMA foreign_keys")).scalar() == 1
    store.close()


def test_default_database_is_a_file_in_the_workspace(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    store = FeedbackStore.for_workspace(ws)
    store.create_user()
    assert (ws.root / FEEDBACK_DB).exists()
    store.close()


def test_set_replace_delete_and_count(tmp_path: Path) -> None:
    store = FeedbackStore(f"sqlite:///{tmp_path / 'f.db'}")
    a, b = store.create_user(), store.create_user()
    assert (a, b) == (1, 2)
    r, created = store.set_rating(a, 30, 7)
    assert created and (r.user_id, r.anime_id, r.rating) == (a, 30, 7)
    r, created = store.set_rating(a, 30, 9)
    assert not created and r.rating == 9
    store.set_rating(b, 5, 2)
    assert [(x.anime_id, x.rating) for x in store.ratings(a)] == [(30, 9)]
    assert store.count() == (2, 2)
    assert store.delete_rating(a, 30) and not store.delete_rating(a, 30)
    assert store.count() == (2, 1)
    with pytest.raises(ValueError, match="1..10"):
        store.set_rating(a, 1, 0)
    store.close()


def test_database_rejects_what_the_api_would_never_send(tmp_path: Path) -> None:
    store = FeedbackStore(f"sqlite:///{tmp_path / 'f.db'}")
    with store.session() as s, pytest.raises(IntegrityError):
        s.add(Rating(user_id=42, anime_id=1, rating=5))  # no such user: foreign key
        s.commit()
    uid = store.create_user()
    with store.session() as s, pytest.raises(IntegrityError):
        s.add(Rating(user_id=uid, anime_id=1, rating=11))  # CHECK 1..10
        s.commit()
    store.close()


def test_export_writes_the_kaggle_layout_with_offset_ids(tmp_path: Path) -> None:
    store = FeedbackStore(f"sqlite:///{tmp_path / 'f.db'}")
    u1, u2 = store.create_user(), store.create_user()
    store.set_rating(u2, 9, 3)
    store.set_rating(u1, 20, 10)
    store.set_rating(u1, 5, 8)
    n = store.export_csv(tmp_path / "out.csv")
    assert n == 3
    rows = list(csv.reader((tmp_path / "out.csv").open()))
    assert rows == [
        ["user_id", "anime_id", "rating"],
        [str(API_USER_OFFSET + u1), "5", "8"],
        [str(API_USER_OFFSET + u1), "20", "10"],
        [str(API_USER_OFFSET + u2), "9", "3"],
    ]
    store.close()


def test_ratings_persist_across_an_app_restart(tiny_workspace, tmp_path: Path) -> None:
    from animerec.serve.app import create_app

    url = f"sqlite:///{tmp_path / 'persist.db'}"
    with TestClient(create_app(tiny_workspace, db_url=url, models=SERVE_MODELS)) as c:
        uid, auth = new_user(c)
        c.put(f"/users/{uid}/ratings/5", json={"rating": 10}, headers=auth)
        c.put(f"/users/{uid}/ratings/7", json={"rating": 3}, headers=auth)
        before = c.get(f"/users/{uid}/recommendations", params={"k": 3}, headers=auth).json()
    # a new app process-alike: new engine, new models, same database file, same token
    with TestClient(create_app(tiny_workspace, db_url=url, models=SERVE_MODELS)) as c:
        got = c.get(f"/users/{uid}", headers=auth).json()["ratings"]
        assert [(x["anime_id"], x["rating"]) for x in got] == [(5, 10), (7, 3)]
        after = c.get(f"/users/{uid}/recommendations", params={"k": 3}, headers=auth).json()
        assert after["items"] == before["items"] and after["items"]
        assert new_user(c)[0] != uid


def test_feedback_export_cli_output_ingests_as_rating_complete(
    tiny_workspace, tmp_path: Path
) -> None:
    """The export is a valid ``rating_complete.csv``: the real ingest reads it beside anime.csv."""
    from animerec.cli import app
    from animerec.data.ingest import ingest
    from animerec.data.ratings import Ratings

    ws = Workspace(tmp_path / "ws")
    store = FeedbackStore.for_workspace(ws)
    uid = store.create_user()
    store.set_rating(uid, 1, 9)
    store.set_rating(uid, 12, 4)
    store.close()
    data = write_tiny_data(tmp_path / "data")
    out = data / "rating_complete.csv"  # replaces the MAL ratings with the feedback
    res = CliRunner().invoke(app, ["feedback", "export", "--out", str(out), "-w", str(ws.root)])
    assert res.exit_code == 0, res.output
    assert "wrote 2 ratings of 1 users" in res.output
    ingest(data, Workspace(tmp_path / "ws2"))
    r = Ratings.read(tmp_path / "ws2" / "ratings.parquet")
    assert r.user_id.tolist() == [API_USER_OFFSET + uid] * 2
    assert list(zip(r.anime_id.tolist(), r.rating.tolist(), strict=True)) == [(1, 9), (12, 4)]


def test_feedback_export_cli_errors_without_a_database(tmp_path: Path) -> None:
    import subprocess
    import sys

    res = subprocess.run(
        [sys.executable, "-c", "from animerec.cli import main; main()", "feedback", "export", "--out", str(tmp_path / "x.csv"),
         "-w", str(tmp_path / "empty")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert res.returncode == 1
    assert res.stderr.startswith("error: ") and "feedback.db" in res.stderr
    assert not (tmp_path / "x.csv").exists()


def test_export_offset_default_matches_the_cli() -> None:
    import inspect

    from animerec.cli.feedback import export

    assert inspect.signature(export).parameters["user_offset"].default == API_USER_OFFSET


def test_concurrent_ratings_of_the_same_anime_all_succeed(tmp_path: Path) -> None:
    """A double click sends two PUTs at once: both succeed, one row remains (last write wins)."""
    from concurrent.futures import ThreadPoolExecutor

    store = FeedbackStore(f"sqlite:///{tmp_path / 'f.db'}")
    uid = store.create_user()
    with ThreadPoolExecutor(8) as pool:
        done = list(pool.map(lambda r: store.set_rating(uid, 30, r % 10 + 1), range(64)))
    assert len(done) == 64 and sum(created for _, created in done) == 1
    assert store.count() == (1, 1)
    store.close()


def test_set_ratings_in_one_transaction(tmp_path) -> None:
    store = FeedbackStore(f"sqlite:///{tmp_path / 'bulk.db'}")
    try:
        u = store.create_user("bulk-user-0123456789", "x")
        store.set_rating(u, 5, 2)
        assert store.set_ratings(u, {a: 7 for a in range(1, 1001)}) == 999  # 5 was there
        got = {r.anime_id: r.rating for r in store.ratings(u)}
        assert len(got) == 1000 and got[5] == 7
        with pytest.raises(ValueError, match="1..10"):
            store.set_ratings(u, {1: 11})
        assert {r.anime_id: r.rating for r in store.ratings(u)}[1] == 7  # nothing written
    finally:
        store.close()
