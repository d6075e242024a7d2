"""``animerec describe``: printing descriptions, token statistics, and one-line errors."""

from __future__ import annotations

import json
import sys

import pandas as pd
import pytest
from typer.testing import CliRunner

from animerec.cli import app, main
from animerec.data.catalog import CATALOG_COLUMNS
from animerec.embed.tokenizer import load_tokenizer
from animerec.text import describe as describe_texts
from animerec.text import token_lengths, truncation_shares
from animerec.workspace import Workspace

ROWS = [
    {
        "anime_id": 1,
        "name": "Space Cats",
        "type": "TV",
        "synopsis": "Cats fly in space.",
        "studios": "Bones",
        "genres": "Action, Sci-Fi",
    },
    {
        "anime_id": 7,
        "name": "Neko Movie",
        "english_name": "The Cat Movie",
        "type": "Movie",
        "synopsis": "No synopsis has been added for this series yet.",
        "premiered": "Fall 2004",
    },
    {"anime_id": 9, "name": "Long Show", "type": "ONA", "synopsis": "word " * 300},
]


@pytest.fixture
def small_ws(tmp_path) -> Workspace:
    ws = Workspace(tmp_path / "ws")
    ws.root.mkdir()
    pd.DataFrame(ROWS, columns=CATALOG_COLUMNS).to_parquet(ws.anime, index=False)
    return ws


def run(*args: str):
    result = CliRunner().invoke(app, ["describe", *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def run_main(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """Through the real entry point, which turns expected failures into `error: ...`, exit 1."""
    monkeypatch.setattr(sys, "argv", ["animerec", "describe", *args])
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code or 0
    out, err = capsys.readouterr()
    return code, out, err


def test_prints_chosen_anime_in_both_variants(small_ws):
    out = run("-w", str(small_ws.root), "--id", "7", "--id", "1", "--variant", "book").stdout
    assert out == (
        "== 7 · Neko Movie (book) ==\n"
        "Neko Movie is a Movie.\n"
        "Synopsis: No synopsis has been added for this series yet.\n"
        "It was produced by Unknown and it is from Unknown Studio.\n"
        "Its source is Unknown.\n"
        "It premiered in Fall 2004.\n"
        "Its genres are Unknown\n\n"
        "== 1 · Space Cats (book) ==\n"
        "Space Cats is a TV Show.\n"
        "Synopsis: Cats fly in space.\n"
        "It was produced by Unknown and it is from Bones Studio.\n"
        "Its source is Unknown.\n"
        "It premiered in Unknown.\n"
        "Its genres are Action, Sci-Fi\n\n"
    )
    out = run("-w", str(small_ws.root), "--title", "the cat movie").stdout  # English name
    assert out == (
        "== 7 · Neko Movie (clean) ==\n"
        "Neko Movie (The Cat Movie) is a movie.\nIt premiered in Fall 2004.\n\n"
    )


def test_without_selection_prints_the_first_n(small_ws):
    out = run("-w", str(small_ws.root), "--limit", "2").stdout
    assert [line for line in out.splitlines() if line.startswith("==")] == [
        "== 1 · Space Cats (clean) ==",
        "== 7 · Neko Movie (clean) ==",
    ]


def test_stats_default_paths_and_figures(small_ws):
    result = run("-w", str(small_ws.root), "--stats", "--tokenizer", "minilm")
    assert result.exit_code == 0
    assert "book" in result.stdout and "clean" in result.stdout and ">256" in result.stdout
    tok = load_tokenizer("minilm")
    for variant in ("book", "clean"):
        png = small_ws.reports_dir / f"token_lengths_minilm_{variant}.png"
        assert png.read_bytes()[:4] == b"\x89PNG"
        figures = json.loads(png.with_suffix(".json").read_text())
        lengths = token_lengths(
            describe_texts(pd.DataFrame(ROWS, columns=CATALOG_COLUMNS), variant), tok
        )
        assert figures["stats"]["n"] == 3
        assert figures["stats"]["max"] == lengths.max() > 300  # untruncated "word " * 300
        assert figures["truncated_share"] == {
            str(k): v for k, v in truncation_shares(lengths).items()
        }
        assert figures["truncated_share"]["256"] == pytest.approx(1 / 3)


def test_stats_one_variant_to_given_path(small_ws, tmp_path):
    out = tmp_path / "h.png"
    run("-w", str(small_ws.root), "--stats", "--variant", "clean", "--id", "1", "--out", str(out))
    assert out.exists()
    figures = json.loads(out.with_suffix(".json").read_text())
    assert figures["variant"] == "clean" and figures["stats"]["n"] == 1
    assert not small_ws.reports_dir.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--id", "42"], "error: anime id 42 is not in the catalog (3 anime)"),
        (
            ["--variant", "fancy"],
            "error: unknown description variant 'fancy': choose one of book, clean",
        ),
        (
            ["--title", "Space Catz"],
            "error: no anime is named 'Space Catz'; close matches: 'Space Cats'",
        ),
        (["--stats", "--tokenizer", "no-such-model"], "error: unknown embedder 'no-such-model'"),
    ],
)
def test_one_line_errors(small_ws, monkeypatch, capsys, args, message):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    code, out, err = run_main(monkeypatch, capsys, "-w", str(small_ws.root), *args)
    assert code == 1
    assert err.startswith(message) and err.count("\n") == 1


def test_missing_workspace(tmp_path, monkeypatch, capsys):
    code, _, err = run_main(monkeypatch, capsys, "-w", str(tmp_path / "nowhere"))
    assert code == 1
    assert err.startswith("error: workspace ") and "has no ingested data" in err


def test_describes_from_the_ingested_sample(sample_workspace):
    out = run("-w", str(sample_workspace.root), "--id", "1", "--variant", "book").stdout
    assert out.startswith(
        "== 1 · Cowboy Bebop (book) ==\nCowboy Bebop is a TV Show.\nSynopsis: In the year 2071,"
    )
    assert out.endswith(
        "It premiered in Spring 1998.\nIts genres are Action, Adventure, Comedy, Drama, Sci-Fi, Space\n\n"
    )


def test_usage_errors_are_not_tracebacks(small_ws, monkeypatch, capsys):
    code, _, err = run_main(monkeypatch, capsys, "-w", str(small_ws.root), "--limit", "0")
    assert code == 2
    assert "Invalid value for '--limit'" in err and "Traceback" not in err
