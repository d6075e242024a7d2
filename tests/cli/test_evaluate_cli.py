"""``animerec evaluate`` on a small synthetic workspace."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from animerec.cli import app
from animerec.data.catalog import CATALOG_COLUMNS
from animerec.errors import AnimerecError
from animerec.evaluate.report import TIMING_KEYS
from animerec.workspace import Workspace

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "evaluate"))
from evalfakes import CountPop, synthetic  # noqa: E402  (the evaluation tests' helpers)


@pytest.fixture
def small_ws(tmp_path, monkeypatch) -> Workspace:
    """A workspace holding the synthetic data, with ``countpop`` registered as a model."""
    from animerec.recommend import registry

    monkeypatch.setitem(registry.RECOMMENDERS, "countpop", CountPop)
    ratings, catalog = synthetic()
    ws = Workspace(tmp_path / "ws")
    ws.root.mkdir()
    frame = catalog.frame.reindex(columns=CATALOG_COLUMNS)
    frame.to_parquet(ws.anime)
    pd.DataFrame(
        {"user_id": ratings.user_id, "anime_id": ratings.anime_id, "rating": ratings.rating}
    ).to_parquet(ws.ratings)
    return ws


def invoke(*args: str):
    return CliRunner().invoke(
        app, ["evaluate", *args], catch_exceptions=False, env={"COLUMNS": "200"}
    )


def without_timings(obj):
    if isinstance(obj, dict):
        return {k: without_timings(v) for k, v in obj.items() if k not in TIMING_KEYS}
    if isinstance(obj, list):
        return [without_timings(v) for v in obj]
    return obj


def test_evaluate_writes_a_report_folder(small_ws, tmp_path) -> None:
    out = tmp_path / "rep"
    res = invoke(
        "-w",
        str(small_ws.root),
        "--models",
        "countpop",
        "--k",
        "5",
        "--out",
        str(out),
        "--bootstrap",
        "50",
    )
    assert res.exit_code == 0, res.output
    assert "countpop" in res.output and "NDCG@5" in res.output
    for f in ("report.md", "metrics.json", "metrics.png", "nps_buckets.png", "explore.png"):
        assert (out / f).stat().st_size > 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["settings"]["k"] == 5 and m["settings"]["seed"] == 42
    (r,) = m["results"]
    assert r["model"] == "countpop" and r["params"]["reverse"] is False
    assert r["tuning"]["best"] == {"min_rating": r["params"]["min_rating"], "reverse": False}
    assert (small_ws.root / "tuning" / "countpop.json").exists()
    md = (out / "report.md").read_text()
    assert "## Tuning" in md and "## Cold-start items" in md and "NPS by rank bucket" in md
    assert f"{r['ndcg']['mean']:.3f} [{r['ndcg']['low']:.3f}, {r['ndcg']['high']:.3f}]" in md
    assert not list(out.parent.glob(".rep.*"))  # no temporary folder left behind


def test_same_command_same_numbers(small_ws, tmp_path) -> None:
    runs = []
    for name in ("a", "b"):
        out = tmp_path / name
        args = [
            "-w",
            str(small_ws.root),
            "--models",
            "countpop",
            "--out",
            str(out),
            "--bootstrap",
            "100",
        ]
        assert invoke(*args).exit_code == 0
        runs.append(json.loads((out / "metrics.json").read_text()))
    assert without_timings(runs[0]) == without_timings(runs[1])
    # the second run reused the cached tuning, and a different seed changes the numbers
    out = tmp_path / "c"
    args = [
        "-w",
        str(small_ws.root),
        "--models",
        "countpop",
        "--out",
        str(out),
        "--bootstrap",
        "100",
        "--seed",
        "7",
    ]
    assert invoke(*args).exit_code == 0
    other = json.loads((out / "metrics.json").read_text())
    assert other["split"]["n_test_users"] > 0
    assert without_timings(other["results"]) != without_timings(runs[0]["results"])


def test_default_report_folder_is_in_the_workspace(small_ws) -> None:
    assert (
        invoke(
            "-w", str(small_ws.root), "--models", "countpop", "--no-tune", "--bootstrap", "10"
        ).exit_code
        == 0
    )
    (folder,) = (small_ws.root / "reports").glob("eval-*")
    assert (folder / "report.md").exists()
    assert not (small_ws.root / "tuning").exists()


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "from animerec.cli import main; main()", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
    )


def test_unknown_model_is_one_line_error(small_ws, tmp_path) -> None:
    p = cli("evaluate", "-w", str(small_ws.root), "--models", "popularity,nope", cwd=tmp_path)
    assert p.returncode != 0
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: unknown model 'nope'")


def test_errors_before_any_work(small_ws, tmp_path) -> None:
    empty = tmp_path / "empty"
    p = cli("evaluate", "-w", str(empty), "--models", "popularity", cwd=tmp_path)
    assert p.returncode == 1 and "ingest" in p.stderr
    p = cli("evaluate", "-w", str(small_ws.root), "--explore", "0,x", cwd=tmp_path)
    assert p.returncode == 1 and "--explore" in p.stderr
    p = cli("evaluate", "-w", str(small_ws.root), "--backend", "tpu", cwd=tmp_path)
    assert p.returncode == 1 and "unknown embedder backend 'tpu'" in p.stderr


def test_default_is_every_registered_model(small_ws, tmp_path) -> None:
    from animerec.cli.evaluate import MODEL_ORDER
    from animerec.recommend.registry import RECOMMENDERS

    out = tmp_path / "all"
    args = ["-w", str(small_ws.root), "--no-tune", "--bootstrap", "10", "--out", str(out)]
    assert invoke(*args).exit_code == 0
    models = json.loads((out / "metrics.json").read_text())["settings"]["models"]
    assert models == [m for m in MODEL_ORDER if m in RECOMMENDERS]
    assert {"popularity", "itemknn", "userknn", "ease", "als"} <= set(models)


def test_protocols_on_the_command_line(small_ws, tmp_path) -> None:
    out = tmp_path / "p"
    common = ["-w", str(small_ws.root), "--models", "countpop,ease", "--bootstrap", "50"]
    res = invoke(*common, "--protocol", "holdout,likes", "--likes", "1,3", "--dislikes", "1",
                 "--out", str(out), "--no-tune")  # fmt: skip
    assert res.exit_code == 0, res.output
    m = json.loads((out / "metrics.json").read_text())
    part = m["protocols"]
    assert part["protocols"] == ["holdout", "likes1", "likes1+d1", "likes3", "likes3+d1"]
    assert part["tuned_per_protocol"] == []  # --no-tune: nothing is tuned
    row = part["results"]["likes3"]["countpop"]
    assert 0 <= row["detractor_rate"]["mean"] <= 1 and "ease" in row["vs"]
    assert "without_dislike" in part["results"]["likes1+d1"]["ease"]
    assert (out / "ndcg_by_likes.png").exists() and "likes3+d1" in res.output
    with pytest.raises(AnimerecError, match="--likes takes numbers >= 1"):
        invoke(*common, "--protocol", "likes", "--likes", "0", "--out", str(tmp_path / "x"))
    with pytest.raises(AnimerecError, match="unknown protocol 'fewlikes'"):
        invoke(*common, "--protocol", "fewlikes", "--out", str(tmp_path / "y"))
    with pytest.raises(AnimerecError, match="not among --models"):
        invoke(*common, "--protocol", "likes", "--tune-per-protocol", "als")
