"""``animerec labels``: the files it writes, whose ratings it uses, and its one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cliruns import run_cli

from animerec.data.ratings import Ratings
from animerec.data.split import protocol_split, validation_split
from animerec.labels import LabelSettings, pair_labels
from animerec.workspace import Workspace

SETTINGS = LabelSettings(min_corated=3)


def make_ratings(seed: int = 0, n_users: int = 40, n_items: int = 12) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    u, i = np.nonzero(rng.random((n_users, n_items)) < 0.8)
    return pd.DataFrame(
        {
            "user_id": (u * 3 + 100).astype(np.int64),
            "anime_id": (i * 5 + 1).astype(np.int64),
            "rating": rng.integers(1, 11, len(u)).astype(np.int8),
        }
    )


def make_ws(root: Path, frame: pd.DataFrame) -> Workspace:
    ws = Workspace(root)
    root.mkdir(parents=True)
    frame.to_parquet(ws.ratings, index=False)
    return ws


def as_ratings(frame: pd.DataFrame) -> Ratings:
    return Ratings.from_arrays(frame.user_id, frame.anime_id, frame.rating)


def run_main(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    return run_cli(monkeypatch, capsys, "labels", *args)


def read_pairs(path: Path) -> pd.DataFrame:
    df = pd.read_parquet(path)
    df["split"] = df["split"].astype(str)
    return df


def expected(frame: pd.DataFrame, users) -> pd.DataFrame:
    df = pair_labels(as_ratings(frame), users, SETTINGS)
    df["split"] = df["split"].astype(str)
    return df


def test_writes_pairs_summary_and_plot(tmp_path, monkeypatch, capsys) -> None:
    frame = make_ratings()
    ws = make_ws(tmp_path / "ws", frame)
    code, out, err = run_main(monkeypatch, capsys, "-w", str(ws.root), "--min-corated", "3")
    assert code == 0, err
    d = ws.root / "labels"
    train = protocol_split(as_ratings(frame)).train_users
    want = expected(frame, train)
    assert len(want) > 20
    pd.testing.assert_frame_equal(read_pairs(d / "pairs.parquet"), want)

    s = json.loads((d / "summary.json").read_text())
    assert s["pairs"] == len(want)
    assert s["positive"] == int((want.label == 1).sum())
    assert s["negative"] == int((want.label == -1).sum())
    assert s["neutral"] == int((want.label == 0).sum())
    assert s["users"] == "train" and s["users_used"] == len(train) == 28
    assert s["settings"] == {"min_corated": 3, "threshold": 0.7, "val_frac": 0.1, "seed": 42}
    assert sum(s["score_hist"]["counts"]) == len(want)
    assert s["splits"]["train"]["pairs"] + s["splits"]["val"]["pairs"] == len(want)
    assert (d / "score_hist.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "pairs" in out and "positive" in out


def test_users_all_or_a_file_and_out_dir(tmp_path, monkeypatch, capsys) -> None:
    frame = make_ratings(seed=1)
    ws = make_ws(tmp_path / "ws", frame)
    out_dir = tmp_path / "elsewhere"
    args = ["-w", str(ws.root), "--out", str(out_dir), "--min-corated", "3"]

    code, _, err = run_main(monkeypatch, capsys, *args, "--users", "all")
    assert code == 0, err
    everyone = np.unique(frame.user_id)
    pd.testing.assert_frame_equal(read_pairs(out_dir / "pairs.parquet"), expected(frame, everyone))

    chosen = everyone[::2]
    users_file = tmp_path / "users.txt"
    users_file.write_text("user_id\n" + "\n".join(map(str, chosen)) + "\n\n# a comment\n")
    code, _, err = run_main(monkeypatch, capsys, *args, "--users", str(users_file))
    assert code == 0, err
    pd.testing.assert_frame_equal(read_pairs(out_dir / "pairs.parquet"), expected(frame, chosen))
    s = json.loads((out_dir / "summary.json").read_text())
    assert s["users"] == str(users_file) and s["users_used"] == len(chosen)
    assert not (ws.root / "labels").exists()


def test_users_train_minus_validation_leave_out_the_validation_users(
    tmp_path, monkeypatch, capsys
) -> None:
    frame = make_ratings(seed=3)
    ws = make_ws(tmp_path / "ws", frame)
    args = ["-w", str(ws.root), "--min-corated", "3", "--users", "train-minus-validation"]
    code, _, err = run_main(monkeypatch, capsys, *args)
    assert code == 0, err
    train = protocol_split(as_ratings(frame)).train_users
    fit = validation_split(protocol_split(as_ratings(frame)).train).train_users
    assert set(fit) < set(train) and len(train) - len(fit) == round(0.2 * len(train))
    d = ws.root / "labels"
    pd.testing.assert_frame_equal(read_pairs(d / "pairs.parquet"), expected(frame, fit))
    s = json.loads((d / "summary.json").read_text())
    assert s["users"] == "train-minus-validation" and s["users_used"] == len(fit)


def test_train_labels_carry_no_test_user_signal(tmp_path, monkeypatch, capsys) -> None:
    frame = make_ratings(seed=2)
    split = protocol_split(as_ratings(frame))
    is_test = ~frame.user_id.isin(split.train_users)
    assert is_test.sum() > 50

    def labels_for(name: str, f: pd.DataFrame) -> bytes:
        ws = make_ws(tmp_path / name, f)
        code, _, err = run_main(monkeypatch, capsys, "-w", str(ws.root), "--min-corated", "3")
        assert code == 0, err
        return (ws.root / "labels" / "pairs.parquet").read_bytes()

    base = labels_for("base", frame)
    # turn every test user's opinions upside down, and drop some of their ratings
    flipped = frame.copy()
    flipped.loc[is_test, "rating"] = (11 - flipped.loc[is_test, "rating"]).astype(np.int8)
    flipped = flipped.drop(flipped.index[is_test.to_numpy()][::4])
    assert labels_for("test-changed", flipped) == base
    # the same change on one training user does change the labels (so the check can fail)
    one = frame.user_id == split.train_users[0]
    changed = frame.copy()
    changed.loc[one, "rating"] = (11 - changed.loc[one, "rating"]).astype(np.int8)
    assert labels_for("train-changed", changed) != base


def test_bad_users_file_is_a_one_line_error(tmp_path, monkeypatch, capsys) -> None:
    ws = make_ws(tmp_path / "ws", make_ratings())
    bad = tmp_path / "users.txt"
    bad.write_text("100\n103\nabc\n")
    code, _, err = run_main(monkeypatch, capsys, "-w", str(ws.root), "--users", str(bad))
    assert code == 1
    assert err.strip() == f"error: {bad}:3: 'abc' is not a user id (one integer per line)"

    missing = tmp_path / "nope.txt"
    code, _, err = run_main(monkeypatch, capsys, "-w", str(ws.root), "--users", str(missing))
    assert code == 1 and str(missing) in err and len(err.strip().splitlines()) == 1

    unknown = tmp_path / "unknown.txt"
    unknown.write_text("5\n6\n")
    code, _, err = run_main(monkeypatch, capsys, "-w", str(ws.root), "--users", str(unknown))
    assert code == 1 and "none of the 2 users" in err
    assert not (ws.root / "labels").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--threshold", "0"], "threshold"), (["--min-corated", "0"], "min_corated")],
)
def test_bad_settings_and_missing_workspace(tmp_path, monkeypatch, capsys, args, message) -> None:
    ws = make_ws(tmp_path / "ws", make_ratings())
    code, _, err = run_main(monkeypatch, capsys, "-w", str(ws.root), *args)
    assert code == 1 and message in err and err.startswith("error: ")
    code, _, err = run_main(monkeypatch, capsys, "-w", str(tmp_path / "empty"))
    assert code == 1 and "ingest" in err
