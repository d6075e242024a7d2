"""What a pair table holds, counted block by block while it is written (and checked before training)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from animerec.labels.pairs import LabelSettings

__all__ = ["JACCARD_BINS", "SCORE_BINS", "LabelSummary", "label_summary"]


SCORE_BINS = np.linspace(-1.0, 1.0, 41)
JACCARD_BINS = np.linspace(0.0, 1.0, 51)


@dataclass
class LabelSummary:
    """Counts worth checking before training on the labels, accumulated block by block."""

    settings: LabelSettings
    pairs: int = 0
    positive: int = 0
    negative: int = 0
    splits: dict[str, dict[str, int]] = field(default_factory=dict)
    anime_in_pairs: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    anime_labelled: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    score_hist: np.ndarray = field(default_factory=lambda: np.zeros(len(SCORE_BINS) - 1, np.int64))
    jaccard_hist: np.ndarray = field(
        default_factory=lambda: np.zeros(len(JACCARD_BINS) - 1, np.int64)
    )

    def add(self, pairs: pd.DataFrame) -> LabelSummary:
        label = pairs["label"].to_numpy()
        split = np.asarray(pairs["split"], dtype=object)
        a, b = pairs["anime_a"].to_numpy(), pairs["anime_b"].to_numpy()
        self.pairs += len(pairs)
        self.positive += int((label == 1).sum())
        self.negative += int((label == -1).sum())
        for name in ("train", "val"):
            d = self.splits.setdefault(name, {"pairs": 0, "positive": 0, "negative": 0})
            on = split == name
            d["pairs"] += int(on.sum())
            d["positive"] += int((on & (label == 1)).sum())
            d["negative"] += int((on & (label == -1)).sum())
        self.anime_in_pairs = np.union1d(self.anime_in_pairs, np.union1d(a, b))
        lab = label != 0
        self.anime_labelled = np.union1d(self.anime_labelled, np.union1d(a[lab], b[lab]))
        self.score_hist += np.histogram(pairs["score"], SCORE_BINS)[0]
        self.jaccard_hist += np.histogram(pairs["jaccard"], JACCARD_BINS)[0]
        return self

    def to_dict(self) -> dict[str, Any]:
        return {
            "pairs": self.pairs,
            "positive": self.positive,
            "negative": self.negative,
            "neutral": self.pairs - self.positive - self.negative,
            "anime_in_pairs": len(self.anime_in_pairs),
            "anime_labelled": len(self.anime_labelled),
            "splits": self.splits,
            "settings": asdict(self.settings),
            "score_hist": _hist(SCORE_BINS, self.score_hist),
            "jaccard_hist": _hist(JACCARD_BINS, self.jaccard_hist),
        }


def _hist(bins: np.ndarray, counts: np.ndarray) -> dict[str, Any]:
    return {
        "range": [float(bins[0]), float(bins[-1])],
        "bins": len(counts),
        "counts": counts.tolist(),
    }


def label_summary(pairs: pd.DataFrame, settings: LabelSettings) -> dict[str, Any]:
    """:class:`LabelSummary` of a whole pair table."""
    return LabelSummary(settings).add(pairs).to_dict()
