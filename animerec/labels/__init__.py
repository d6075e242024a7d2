"""Pair labels: which anime the same fans promote together (DESIGN §4).

:mod:`~animerec.labels.pairs` computes the table, :mod:`~animerec.labels.summary` counts what it
holds and :mod:`~animerec.labels.files` writes it (Parquet and histograms).
"""

from animerec.labels.files import plot_histograms, write_pairs
from animerec.labels.pairs import (
    COLUMNS,
    DETRACTOR,
    MAX_USERS,
    PASSIVE,
    PROMOTER,
    SPLITS,
    LabelSettings,
    PairCounts,
    iter_pair_counts,
    iter_pair_labels,
    labels_frame,
    nps,
    nps_matrices,
    pair_counts,
    pair_labels,
    scores,
    split_pairs,
)
from animerec.labels.summary import JACCARD_BINS, SCORE_BINS, LabelSummary, label_summary

__all__ = [
    "COLUMNS",
    "DETRACTOR",
    "JACCARD_BINS",
    "MAX_USERS",
    "PASSIVE",
    "PROMOTER",
    "SCORE_BINS",
    "SPLITS",
    "LabelSettings",
    "LabelSummary",
    "PairCounts",
    "iter_pair_counts",
    "iter_pair_labels",
    "label_summary",
    "labels_frame",
    "nps",
    "nps_matrices",
    "pair_counts",
    "pair_labels",
    "plot_histograms",
    "scores",
    "split_pairs",
    "write_pairs",
]
