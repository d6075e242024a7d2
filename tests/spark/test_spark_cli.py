"""``animerec ingest/labels --engine spark`` on the shared sample: the embedded engine's results.

This is the CI check of the Spark path: both engines read the real sample, and the ratings table,
the pair table (counts exactly, scores and Jaccard to 1e-9) and the label summary must agree.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from cliruns import run_cli as run_main

from animerec.workspace import Workspace


def test_both_engines_agree_on_the_sample(
    spark, sample_data: Path, sample_workspace: Workspace, tmp_path: Path, monkeypatch, capsys
) -> None:
    ws = tmp_path / "ws-spark"
    code, out, err = run_main(
        monkeypatch,
        capsys,
        "ingest",
        "--data",
        str(sample_data),
        "-w",
        str(ws),
        "--engine",
        "spark",
    )
    assert code == 0, err
    assert "spark engine" in out
    pd.testing.assert_frame_equal(
        pd.read_parquet(ws / "ratings.parquet"), pd.read_parquet(sample_workspace.ratings)
    )
    assert json.loads((ws / "manifest.json").read_text())["ingest"]["rejects"] == {}

    outs = {}
    for engine, root in (("spark", ws), ("embedded", sample_workspace.root)):
        outs[engine] = tmp_path / f"labels-{engine}"
        code, _, err = run_main(
            monkeypatch, capsys, "labels", "-w", str(root), "--out", str(outs[engine]),
            "--engine", engine,
        )  # fmt: skip
        assert code == 0, err
    got = pd.read_parquet(outs["spark"] / "pairs.parquet")
    want = pd.read_parquet(outs["embedded"] / "pairs.parquet")
    assert len(want) == 33_165  # the sample's training users, ≥ 20 co-raters
    ints = ["anime_a", "anime_b", "n_corated", "n_agree", "n_disagree", "label"]
    pd.testing.assert_frame_equal(got[ints], want[ints], check_exact=True)
    assert (got["split"].astype(str) == want["split"].astype(str)).all()
    for col in ("agree", "disagree", "score", "jaccard"):
        np.testing.assert_allclose(got[col], want[col], rtol=0, atol=1e-9)
    s_got = json.loads((outs["spark"] / "summary.json").read_text())
    s_want = json.loads((outs["embedded"] / "summary.json").read_text())
    assert s_got["engine"] == "spark" and s_want["engine"] == "embedded"
    for key in ("created", "elapsed_s", "engine", "ratings_path", "data_fingerprint"):
        s_got.pop(key), s_want.pop(key)
    assert s_got == s_want
    assert not spark.sparkContext._jsc.sc().isStopped()  # the CLI left the tests' session running


def test_spark_options_without_the_spark_engine(tmp_path: Path, monkeypatch, capsys) -> None:
    code, _, err = run_main(monkeypatch, capsys, "labels", "-w", str(tmp_path), "--master", "local")
    assert code == 1
    assert "--master and --spark-conf need --engine spark" in err
