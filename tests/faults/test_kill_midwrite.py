"""kill -9 ``animerec ingest``, ``labels``, ``finetune`` and ``evaluate`` with everything new
written but not yet published (at their first publishing rename): the previous artefacts are
still there byte for byte and still load, and the command runs again cleanly afterwards.

The moment is chosen by a hook (``killhook.py``), not by a timer, so each test hits it every run.
"""

from __future__ import annotations

import csv
import json

import pandas as pd
from faultkit import kill_at_rename, snapshot
from serve_data import write_tiny_data
from tastefakes import taste_catalog, taste_ratings, write_workspace
from typer.testing import CliRunner

from animerec.cli import app
from animerec.data.catalog import Catalog
from animerec.data.ingest import ingest
from animerec.data.ratings import Ratings
from animerec.workspace import Workspace


def _ok(*args: str) -> None:
    res = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output


def test_ingest_killed_before_publishing_leaves_the_old_workspace(tmp_path) -> None:
    ws = Workspace(tmp_path / "ws")
    ingest(write_tiny_data(tmp_path / "d1"), ws)
    before = snapshot(ws.root)
    d2 = write_tiny_data(tmp_path / "d2")
    with (d2 / "rating_complete.csv").open("a", newline="") as f:
        csv.writer(f).writerows([(900 + u, a, 8) for u in range(20) for a in (1, 5, 9)])
    dst = kill_at_rename(["ingest", "--data", str(d2), "-w", str(ws.root)], ws.root, tmp_path)
    assert dst.endswith("anime.parquet")
    assert snapshot(ws.root) == before
    ws.require_ingested()
    assert len(Catalog.read(ws.anime)) == 12 and len(Ratings.read(ws.ratings)) > 0
    # ... and a second killed run at the *next* rename: each artefact still whole and loading
    kill_at_rename(["ingest", "--data", str(d2), "-w", str(ws.root)], ws.root, tmp_path, at=2)
    assert len(Catalog.read(ws.anime)) == 12 and len(Ratings.read(ws.ratings)) > 0
    _ok("ingest", "--data", str(d2), "-w", str(ws.root))
    assert json.loads(ws.manifest.read_text())["ingest"]["users"] == 50


def test_labels_killed_before_publishing_leaves_the_old_labels(tmp_path) -> None:
    ws = write_workspace(tmp_path / "ws", taste_ratings(), taste_catalog())
    _ok("labels", "-w", str(ws.root), "--min-corated", "3")
    before = snapshot(ws.root)
    pairs = ws.root / "labels" / "pairs.parquet"
    n = len(pd.read_parquet(pairs))
    args = ["labels", "-w", str(ws.root), "--min-corated", "20"]
    assert kill_at_rename(args, ws.root, tmp_path).startswith(str(ws.root / "labels"))
    assert snapshot(ws.root) == before and len(pd.read_parquet(pairs)) == n
    _ok(*args)
    assert len(pd.read_parquet(pairs)) < n


def test_finetune_killed_before_publishing_leaves_the_old_model(tmp_path, tiny_model_dir) -> None:
    from animerec.embed.registry import get_embedder

    ws = write_workspace(tmp_path / "ws", taste_ratings(), taste_catalog())
    base = ["finetune", "-w", str(ws.root), "--base", str(tiny_model_dir), "--out", "ft",
            "--max-seq-length", "32", "--batch-size", "8", "--no-progress", "--device", "cpu",
            "--min-corated", "5", "--loss", "cosine", "--recipe", "book", "--method", "full"]  # fmt: skip
    _ok(*base, "--max-steps", "2")
    before = snapshot(ws.models_dir / "ft")
    want = get_embedder("ft", workspace=ws).encode(["a robot story"])
    kill_at_rename([*base, "--max-steps", "3"], ws.root, tmp_path)
    assert snapshot(ws.models_dir / "ft") == before
    got = get_embedder("ft", workspace=ws).encode(["a robot story"])
    assert (got == want).all()


def test_evaluate_killed_before_publishing_leaves_the_old_report(tmp_path) -> None:
    ws = write_workspace(tmp_path / "ws", taste_ratings(), taste_catalog())
    out = tmp_path / "reports" / "rep"
    args = ["evaluate", "-w", str(ws.root), "--models", "popularity", "--k", "5", "--no-tune",
            "--bootstrap", "20", "--out", str(out)]  # fmt: skip
    _ok(*args)
    before = snapshot(out)
    metrics = json.loads((out / "metrics.json").read_text())
    assert kill_at_rename([*args, "--seed", "7"], out.parent, tmp_path) == str(out)
    assert snapshot(out) == before
    assert json.loads((out / "metrics.json").read_text()) == metrics
    _ok(*args, "--seed", "7")
    assert json.loads((out / "metrics.json").read_text())["settings"]["seed"] == 7
