"""The label files: the pair table as Parquet (streamed block by block) and its histograms.

``WS/labels/pairs.parquet`` is written atomically (temp name, then rename) with one fixed schema,
so an empty table and a table from another engine (Spark) read the same.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from animerec.data.ratings import Ratings
from animerec.labels.pairs import LabelSettings, PairCounts, iter_pair_labels, labels_frame
from animerec.labels.summary import JACCARD_BINS, SCORE_BINS, LabelSummary
from animerec.workspace import atomic_path

__all__ = ["plot_histograms", "write_pairs"]


def write_pairs(
    ratings: Ratings | None,
    users: np.ndarray,
    settings: LabelSettings,
    path: Path,
    block_size: int,
    *,
    frames: Iterator[pd.DataFrame] | None = None,
) -> LabelSummary:
    """Stream the pair table to Parquet block by block (atomically) and summarise it on the way.

    ``frames`` (another engine's pieces of the table, in order) replaces the embedded products.
    """
    if frames is None:
        frames = iter_pair_labels(ratings, users, settings, block_size=block_size, progress=True)
    summary = LabelSummary(settings)
    empty = labels_frame(PairCounts.concat([]), settings)
    schema = pa.Schema.from_pandas(empty, preserve_index=False)
    with atomic_path(path) as tmp, pq.ParquetWriter(tmp, schema) as writer:
        writer.write_table(pa.Table.from_pandas(empty, schema=schema, preserve_index=False))
        for frame in frames:
            writer.write_table(pa.Table.from_pandas(frame, schema=schema, preserve_index=False))
            summary.add(frame)
    return summary


def plot_histograms(summary: LabelSummary, path: Path) -> None:
    """Agreement scores with the label thresholds, and Jaccard scores, side by side."""
    # matplotlib loads here: 0.6 s of imports (measured) that only writing the figure needs.
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    ax1.stairs(summary.score_hist, SCORE_BINS, fill=True, color="tab:blue")
    t = summary.settings.threshold
    for x in (-t, t):
        ax1.axvline(x, color="tab:red", linestyle="--", linewidth=1)
    ax1.set(
        title=f"Agreement score ({summary.positive:,} ≥ {t}, {summary.negative:,} ≤ −{t})",
        xlabel="score",
        ylabel="pairs",
    )
    ax2.stairs(summary.jaccard_hist, JACCARD_BINS, fill=True, color="tab:green")
    ax2.set(title="Jaccard of promoter sets", xlabel="Jaccard", ylabel="pairs")
    fig.suptitle(f"{summary.pairs:,} pairs with ≥ {summary.settings.min_corated} co-raters")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
