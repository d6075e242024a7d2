"""``animerec finetune`` end to end on a tiny workspace with the tiny model (by path)."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from tastefakes import N_ANIME, taste_catalog, taste_ratings, write_workspace
from typer.testing import CliRunner

from animerec.cli import app, main
from animerec.cli.finetune import parse_duration
from animerec.data.ratings import Ratings
from animerec.data.split import protocol_split, validation_split
from animerec.errors import AnimerecError
from animerec.finetune import RECOMMENDED
from animerec.finetune import run as run_module
from animerec.finetune.run import read_manifest


@pytest.fixture
def tiny_ws(taste_ws):
    return taste_ws


def args(ws, tiny_model_dir, *extra):
    return [
        "finetune",
        "-w",
        str(ws.root),
        "--base",
        str(tiny_model_dir),
        "--max-seq-length",
        "32",
        "--batch-size",
        "8",
        "--max-steps",
        "2",
        "--no-progress",
        "--device",
        "cpu",
        *extra,
    ]


def invoke(ws, tiny_model_dir, *extra):
    """``animerec finetune`` on the tiny model, through typer's test runner."""
    return CliRunner().invoke(app, args(ws, tiny_model_dir, *extra))


def test_finetune_cli_trains_and_registers(tiny_ws, tiny_model_dir):
    result = invoke(
        tiny_ws, tiny_model_dir,
        "--out", "ft-cli", "--loss", "cosine", "--recipe", "book",
        "--min-corated", "5", "--method", "full",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "validation Spearman" in result.output and "--embedder ft-cli" in result.output
    m = read_manifest(tiny_ws.models_dir / "ft-cli")
    assert m["loss"] == "cosine" and m["recipe"]["recipe"] == "book" and m["steps"] == 2
    assert m["users"]["source"] == "train"

    from animerec.embed.registry import get_embedder

    assert get_embedder("ft-cli", workspace=tiny_ws).encode(["a robot story"]).shape == (1, 32)


class _Stop(Exception):
    """Raised by the stand-in run: the settings are all the test needs."""


def test_cli_defaults_are_the_recommended_run(tiny_ws, monkeypatch):
    """`animerec finetune --out anime-minilm --users train` (scripts/main.sh) trains RECOMMENDED."""
    seen = {}

    def capture(*args, settings, **kwargs):
        seen["settings"], seen["name"] = settings, args[3]
        raise _Stop

    monkeypatch.setattr(run_module, "finetune", capture)
    result = CliRunner().invoke(app, ["finetune", "-w", str(tiny_ws.root), "--users", "train"])
    assert isinstance(result.exception, _Stop), result.output
    assert seen["settings"] == RECOMMENDED
    assert seen["name"] == "anime-minilm"


@pytest.fixture
def tail_ws(tmp_path):
    """The taste world plus a long tail: five anime two users each rated (what ``rare`` draws)."""
    ratings = taste_ratings()
    tail = [(u, N_ANIME + 1 + a, 8) for a in range(5) for u in (a, a + 1)]
    users, anime, scores = zip(*tail, strict=True)
    ratings = Ratings.from_arrays(
        np.r_[ratings.user_id, users], np.r_[ratings.anime_id, anime], np.r_[ratings.rating, scores]
    )
    return write_workspace(tmp_path / "tail-ws", ratings, taste_catalog(N_ANIME + 5))


def test_finetune_cli_all_users_and_teacher(tail_ws, tiny_model_dir):
    tiny_ws = tail_ws
    result = invoke(
        tiny_ws, tiny_model_dir,
        "--out", "ft-all", "--users", "all", "--min-raters", "5", "--time-budget", "5m",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    m = read_manifest(tiny_ws.models_dir / "ft-all")
    assert m["users"] == {**m["users"], "source": "all", "count": 200}
    assert m["settings"]["time_budget_s"] == 300
    # the defaults are the study's winning recipe: an adapter on 10 EASE-teacher neighbours
    assert m["method"] == "adapter" and m["recipe"]["neighbours"] == 10
    assert m["recipe"]["hard_negatives"] == "rare"  # rarely-rated anime as hard negatives


def test_finetune_cli_on_the_training_users_minus_the_validation_users(tail_ws, tiny_model_dir):
    result = invoke(
        tail_ws, tiny_model_dir,
        "--out", "ft-nv", "--users", "train-minus-validation", "--min-raters", "5",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    ratings = Ratings.read(tail_ws.ratings)
    train = protocol_split(ratings).train_users
    fit = validation_split(protocol_split(ratings).train).train_users
    m = read_manifest(tail_ws.models_dir / "ft-nv")
    assert m["users"]["source"] == "train-minus-validation" and m["users"]["count"] == len(fit)
    learned = np.load(tail_ws.models_dir / "ft-nv" / "training_users.npy")
    assert np.array_equal(learned, fit) and len(fit) < len(train)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--loss", "triplet"], "unknown loss 'triplet'"),
        (["--recipe", "vibes"], "unknown pair recipe 'vibes'"),
        (["--out", "minilm"], "built-in embedder"),
        (["--time-budget", "soon"], "is not a duration"),
        (["--min-raters", "5"], "no anime has 1 to 9 raters"),  # rare negatives need a tail
    ],
)
def test_finetune_cli_errors_are_one_line(
    tiny_ws, tiny_model_dir, monkeypatch, capsys, extra, message
):
    monkeypatch.setattr(sys, "argv", ["animerec", *args(tiny_ws, tiny_model_dir, *extra)])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]  # progress lines may come first
    assert err.startswith("error: ") and message in err


def test_finetune_cli_needs_an_ingested_workspace(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["animerec", "finetune", "-w", str(tmp_path / "none")])
    with pytest.raises(SystemExit):
        main()
    assert "animerec ingest" in capsys.readouterr().err


def test_parse_duration():
    assert parse_duration("90") == 90 and parse_duration("25m") == 1500
    assert parse_duration("1.5h") == 5400 and parse_duration(None) is None
    with pytest.raises(AnimerecError):
        parse_duration("5 days")
