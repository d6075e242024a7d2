"""The label files: the streamed Parquet table is the in-memory table, and the figure is written."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from animerec.data.ratings import Ratings
from animerec.labels import LabelSettings, label_summary, pair_labels, plot_histograms, write_pairs


def ratings(seed: int = 0) -> Ratings:
    rng = np.random.default_rng(seed)
    users, items = np.nonzero(rng.random((80, 30)) < 0.5)
    return Ratings.from_arrays(users, items + 100, rng.integers(1, 11, len(users)))


def test_streamed_table_and_summary_equal_the_in_memory_ones(tmp_path):
    r = ratings()
    settings = LabelSettings(min_corated=3, threshold=0.5)
    path = tmp_path / "labels" / "pairs.parquet"
    summary = write_pairs(r, r.users, settings, path, block_size=7)
    got = pq.read_table(path).to_pandas()
    want = pair_labels(r, r.users, settings)
    pd.testing.assert_frame_equal(got.reset_index(drop=True), want.reset_index(drop=True))
    assert summary.to_dict() == label_summary(want, settings)
    assert [p.name for p in path.parent.iterdir()] == ["pairs.parquet"]  # no temp file left


def test_an_empty_table_keeps_the_schema(tmp_path):
    r = ratings()
    path = tmp_path / "pairs.parquet"
    summary = write_pairs(r, r.users, LabelSettings(min_corated=10_000), path, block_size=8)
    assert summary.pairs == 0
    table = pq.read_table(path)
    assert table.num_rows == 0 and "score" in table.column_names


def test_histograms_are_a_png(tmp_path):
    r = ratings(1)
    settings = LabelSettings(min_corated=3)
    summary = write_pairs(r, r.users, settings, tmp_path / "pairs.parquet", block_size=16)
    plot_histograms(summary, tmp_path / "score_hist.png")
    assert (tmp_path / "score_hist.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
