"""``animerec recommend``: the DESIGN §6 batch contract (H.csv → R.csv) and the --liked form."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from animerec.cli import main
from animerec.data.catalog import Catalog
from animerec.data.ratings import Ratings
from animerec.workspace import Workspace, write_json


@pytest.fixture(scope="module")
def ws(tmp_path_factory, sample_catalog: Catalog, sample_ratings: Ratings) -> Workspace:
    """The sample cut to its first 300 anime, so fits take a second."""
    root = tmp_path_factory.mktemp("rec-cli") / "ws"
    root.mkdir()
    w = Workspace(root)
    frame = sample_catalog.frame.iloc[:300].reset_index(drop=True)
    frame.to_parquet(w.anime, index=False)
    r = sample_ratings.take(np.isin(sample_ratings.anime_id, frame["anime_id"].to_numpy()))
    pd.DataFrame({"user_id": r.user_id, "anime_id": r.anime_id, "rating": r.rating}).to_parquet(
        w.ratings, index=False
    )
    write_json(w.manifest, {"ingest": {"fingerprint": "rec-cli"}})
    return w


def run(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["animerec", "recommend", *args])
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def write_h(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_batch_contract(ws: Workspace, tmp_path: Path, monkeypatch, capsys) -> None:
    h = write_h(
        tmp_path / "H.csv",
        "user_id,anime_id,rating\n7,1,10\n7,19,9\n7,30,6\n999,5,10\n999,6,8\n",
    )
    out = tmp_path / "R.csv"
    code, _, err = run(
        monkeypatch, capsys, "--history", str(h), "--k", "5", "--model", "ease",
        "--out", str(out), "-w", str(ws.root),
    )  # fmt: skip
    assert code == 0, err
    r = pd.read_csv(out)
    assert list(r.columns) == ["user_id", "anime_id", "rank", "score", "reason"]
    assert list(r["user_id"].unique()) == [7, 999]  # file order
    for user, seen in ((7, {1, 19, 30}), (999, {5, 6})):
        mine = r[r.user_id == user]
        assert mine["rank"].tolist() == [1, 2, 3, 4, 5]
        assert not set(mine.anime_id) & seen
        assert (np.diff(mine.score.to_numpy()) <= 1e-9).all()
        assert mine.reason.str.len().min() > 0
    assert mine.anime_id.isin(Catalog.read(ws.anime).anime_ids).all()
    # --include-seen may return history anime.
    code, _, _ = run(
        monkeypatch, capsys, "--history", str(h), "--k", "40", "--model", "ease",
        "--out", str(out), "--include-seen", "-w", str(ws.root),
    )  # fmt: skip
    assert code == 0
    r = pd.read_csv(out)
    assert set(r[r.user_id == 7].anime_id) & {1, 19}


def test_batch_spread(ws: Workspace, tmp_path: Path, monkeypatch, capsys) -> None:
    """--spread: the same users, lists keep their head and the batch reaches more anime."""
    rows = ["user_id,anime_id,rating"]
    for u in range(30):  # 30 users with overlapping tastes
        rows += [f"{u},{a},{10 - (u + a) % 3}" for a in (1, 5, 6, 19, 30)[: 2 + u % 4]]
    h = write_h(tmp_path / "H.csv", "\n".join(rows) + "\n")
    plain, spread = tmp_path / "plain.csv", tmp_path / "spread.csv"
    for out, extra in ((plain, ()), (spread, ("--spread",))):
        code, _, err = run(
            monkeypatch, capsys, "--history", str(h), "--k", "10", "--model", "ease",
            "--out", str(out), "-w", str(ws.root), *extra,
        )  # fmt: skip
        assert code == 0, err
    p, s = pd.read_csv(plain), pd.read_csv(spread)
    assert len(p) == len(s) == 300
    assert s.anime_id.nunique() > p.anime_id.nunique()
    head = lambda r: r[r["rank"] <= 8].sort_values(["user_id", "rank"]).anime_id.tolist()  # noqa: E731
    assert head(p) == head(s)
    code, _, err = run(
        monkeypatch, capsys, "--history", str(h), "--out", str(spread), "--spread",
        "--explore", "0.3", "-w", str(ws.root),
    )  # fmt: skip
    assert code == 1 and "--explore" in err and "--spread" in err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("user_id,anime_id\n1,1\n", "missing column rating"),
        (
            "user_id,anime_id,rating\n1,1,10\n1,19,nine\n",
            "line 3: field 'rating': 'nine' is not an integer",
        ),
        (
            "user_id,anime_id,rating\n1,1,10\nx,19,9\n",
            "line 3: field 'user_id': 'x' is not an integer",
        ),
        (
            "user_id,anime_id,rating\n1,1,10\n1,19,11\n",
            "line 3: field 'rating': 11 is outside 1–10",
        ),
        (
            "user_id,anime_id,rating\n1,99999999,10\n",
            "line 2: field 'anime_id': anime 99999999 is not in the catalog",
        ),
        (
            "user_id,anime_id,rating\n1,1,10\n1,1,9\n",
            "line 3: field 'anime_id': user 1 rated anime 1 twice (first on line 2)",
        ),
        ("user_id,anime_id,rating\n", "no rating rows"),
        ("", "the file is empty"),
    ],
)
def test_bad_history_is_one_line_naming_line_and_field(
    ws: Workspace, tmp_path: Path, monkeypatch, capsys, text: str, message: str
) -> None:
    h = write_h(tmp_path / "H.csv", text)
    out = tmp_path / "R.csv"
    code, _, err = run(
        monkeypatch, capsys, "--history", str(h), "--model", "popularity", "--out", str(out),
        "-w", str(ws.root),
    )  # fmt: skip
    assert code == 1
    assert err.startswith(f"error: {h}: ") and message in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_usage_errors(ws: Workspace, tmp_path: Path, monkeypatch, capsys) -> None:
    h = write_h(tmp_path / "H.csv", "user_id,anime_id,rating\n1,1,10\n")
    cases = [
        (("--history", str(h)), "--history needs --out"),
        (("--history", str(h), "--liked", "Monster", "--out", "x.csv"), "give one of --history"),
        ((), "give one of --history"),
        (("--liked", "Monster", "--spread"), "--spread spreads a batch"),
        (("--liked", "Monster", "--model", "nope"), "unknown model 'nope'"),
        (("--liked", "Monster", "--explore", "1.5"), "--explore must be in [0, 1]"),
        (("--liked", "Monster", "--k", "0"), "--k must be >= 1"),
        (("--liked", "Monster", "--dislike-strength", "-1"), "--dislike-strength must be >= 0"),
        (("--history", str(tmp_path / "none.csv"), "--out", "x.csv"), "no such file"),
        (("--liked", "Monster", "--model", "ease", "--embedder", "minilm"), "takes no embedder"),
        (
            ("--liked", "Monster", "--model", "content", "--backend", "tpu"),
            "unknown embedder backend",
        ),
        (
            ("--liked", "Monster", "--model", "ease", "--backend", "onnx"),
            "has no parameter backend",
        ),
    ]
    for args, message in cases:
        code, _, err = run(monkeypatch, capsys, *args, "-w", str(ws.root))
        assert code == 1 and message in err, (args, err)


def test_liked_titles(ws: Workspace, monkeypatch, capsys) -> None:
    code, out, err = run(
        monkeypatch, capsys, "--liked", "Cowboy Bebop", "--liked", "monster", "--k", "4",
        "--model", "ease", "-w", str(ws.root),
    )  # fmt: skip
    assert code == 0, err
    assert "Cowboy Bebop" in out and "Monster" in out  # the title line names them
    assert "because you liked" in out or "people with your taste" in out
    code, _, err = run(
        monkeypatch, capsys, "--liked", "Cowbboy Bepop", "--model", "ease", "-w", str(ws.root)
    )
    assert code == 1
    assert "no anime matches 'Cowbboy Bepop'; did you mean: Cowboy Bebop (1)" in err


def test_liked_with_explore_and_out(ws: Workspace, tmp_path: Path, monkeypatch, capsys) -> None:
    out = tmp_path / "R.csv"
    code, _, err = run(
        monkeypatch, capsys, "--liked", "Cowboy Bebop", "--k", "6", "--model", "ease",
        "--explore", "0.8", "--out", str(out), "-w", str(ws.root),
    )  # fmt: skip
    assert code == 0, err
    r = pd.read_csv(out)
    assert r["rank"].tolist() == list(range(1, 7)) and 1 not in set(r.anime_id)


def test_user_the_model_knows_nothing_about_gets_popular_anime(
    ws: Workspace, tmp_path: Path, monkeypatch, capsys
) -> None:
    catalog = Catalog.read(ws.anime)
    ratings = Ratings.read(ws.ratings)
    unrated = np.setdiff1d(catalog.anime_ids, ratings.anime_id)[:2]
    assert len(unrated) == 2
    h = write_h(
        tmp_path / "H.csv",
        f"user_id,anime_id,rating\n5,{unrated[0]},10\n5,{unrated[1]},9\n",
    )
    out = tmp_path / "R.csv"
    code, _, err = run(
        monkeypatch, capsys, "--history", str(h), "--k", "3", "--model", "ease",
        "--out", str(out), "-w", str(ws.root),
    )  # fmt: skip
    assert code == 0, err
    r = pd.read_csv(out)
    assert len(r) == 3 and r.reason.str.startswith("popular with fans").all()


def test_filters_adult_default_and_mal_export(
    ws: Workspace, tmp_path: Path, monkeypatch, capsys
) -> None:
    """The uniform filters on the command line; adult titles only with --include-adult; a MAL
    'Export my list' file as the history (dropped = disliked, plan to watch left out)."""
    catalog = Catalog.read(ws.anime)
    adult = set(catalog.anime_ids[catalog.frame["age_rating"].fillna("").str.startswith("Rx")])
    out = tmp_path / "R.csv"
    args = ("--liked", "Cowboy Bebop", "--k", "50", "--model", "popularity", "--out", str(out))
    code, _, err = run(monkeypatch, capsys, *args, "-w", str(ws.root))
    assert code == 0, err
    assert not set(pd.read_csv(out).anime_id) & adult
    code, _, err = run(monkeypatch, capsys, *args, "--type", "Movie", "-w", str(ws.root))
    assert code == 0, err
    types = catalog.frame.set_index("anime_id")["type"]
    assert set(types[pd.read_csv(out).anime_id]) == {"Movie"}
    code, _, err = run(monkeypatch, capsys, *args, "--genre", "Nope", "-w", str(ws.root))
    assert code == 1 and "--genres" in err and "Nope" in err

    plan = int(catalog.anime_ids[5])
    xml = (
        "<?xml version='1.0' encoding='UTF-8'?><myanimelist>"
        "<anime><series_animedb_id>1</series_animedb_id><my_score>10</my_score>"
        "<my_status>Completed</my_status></anime>"
        f"<anime><series_animedb_id>{plan}</series_animedb_id><my_score>0</my_score>"
        "<my_status>Plan to Watch</my_status></anime>"
        "<anime><series_animedb_id>99999999</series_animedb_id><my_score>8</my_score>"
        "<my_status>Completed</my_status></anime></myanimelist>"
    )
    export = tmp_path / "animelist.xml"
    export.write_text(xml)
    code, _, err = run(
        monkeypatch, capsys, "--mal-export", str(export), "--k", "50", "--model", "popularity",
        "--out", str(out), "-w", str(ws.root),
    )  # fmt: skip
    assert code == 0, err
    got = set(pd.read_csv(out).anime_id)
    assert 1 not in got and plan not in got  # watched and plan-to-watch are left out
    assert "99999999" in err  # unknown ids are reported, not fatal
    export.write_text("<myanimelist><anime><series_animedb_id>1</series_animedb_id>")
    code, _, err = run(monkeypatch, capsys, "--mal-export", str(export), "-w", str(ws.root))
    assert code == 1 and str(export) in err
