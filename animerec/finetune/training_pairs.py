"""Training pairs as columns (:class:`TrainingPairs`) and the helpers every recipe builds them with."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from animerec.data.ratings import Ratings
from animerec.errors import AnimerecError

__all__ = [
    "NO_ANIME",
    "TrainingPairs",
    "anchor_ids",
    "cap_pairs",
    "concat_pairs",
    "pair_rows",
    "raters",
    "users_ratings",
]

NO_ANIME = -1


@dataclass
class TrainingPairs:
    """Rows of (anchor, other, target) anime ids; ``negative`` is a hard negative per row (or -1).

    Positives have ``target > 0``. ``rank`` is the partner's neighbour rank (0 = nearest; 0 for
    labelled pairs), used to keep the best pairs first when the count is capped.
    """

    anchor: np.ndarray
    other: np.ndarray
    target: np.ndarray
    negative: np.ndarray
    rank: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.anchor)

    @property
    def positive(self) -> np.ndarray:
        return self.target > 0

    def take(self, idx: np.ndarray) -> TrainingPairs:
        return TrainingPairs(
            self.anchor[idx], self.other[idx], self.target[idx], self.negative[idx],
            self.rank[idx], dict(self.info),
        )  # fmt: skip

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "anchor": self.anchor,
                "other": self.other,
                "target": self.target,
                "negative": self.negative,
                "rank": self.rank,
            }
        )

    def anime(self) -> np.ndarray:
        """Every anime id the rows mention (anchors, partners and hard negatives)."""
        ids = np.concatenate([self.anchor, self.other, self.negative])
        return np.unique(ids[ids != NO_ANIME])

    def summary(self) -> dict[str, Any]:
        pos = self.positive
        return {
            "rows": len(self),
            "positive": int(pos.sum()),
            "negative": int((~pos).sum()),
            "with_hard_negative": int((self.negative != NO_ANIME).sum()),
            "anime": len(self.anime()),
            "anime_in_positives": len(np.union1d(self.anchor[pos], self.other[pos])),
            **self.info,
        }


def pair_rows(
    anchor: np.ndarray, other: np.ndarray, target: np.ndarray, rank: np.ndarray | None = None
) -> TrainingPairs:

    n = len(anchor)
    return TrainingPairs(
        np.asarray(anchor, np.int64),
        np.asarray(other, np.int64),
        np.asarray(target, np.float32),
        np.full(n, NO_ANIME, np.int64),
        np.zeros(n, np.int64) if rank is None else np.asarray(rank, np.int64),
    )


def concat_pairs(parts: list[TrainingPairs]) -> TrainingPairs:
    return TrainingPairs(
        *(np.concatenate([getattr(p, f) for p in parts]) for f in
          ("anchor", "other", "target", "negative", "rank")),
        info=dict(parts[0].info) if parts else {},
    )  # fmt: skip


def users_ratings(ratings: Ratings, users: np.ndarray) -> Ratings:
    users = np.unique(np.asarray(users, dtype=np.int64))
    r = ratings.take(np.isin(ratings.user_id, users))
    if len(r) == 0:
        raise AnimerecError("none of the given users has ratings: no training pairs")
    return r


def raters(r: Ratings) -> tuple[np.ndarray, np.ndarray]:
    """(anime ids, number of raters) among ``r``."""
    return np.unique(r.anime_id, return_counts=True)


def anchor_ids(r: Ratings, min_raters: int) -> np.ndarray:
    ids, n = raters(r)
    return ids[n >= min_raters]


def cap_pairs(pairs: TrainingPairs, max_pairs: int | None, seed: int) -> TrainingPairs:
    """At most ``max_pairs`` rows, best neighbour ranks first, ties in seeded random order; the
    positive/negative mix is kept."""
    if max_pairs is None or len(pairs) <= max_pairs:
        return pairs
    rng = np.random.default_rng([seed, 5])
    pos = pairs.positive
    n_pos = int(round(max_pairs * pos.mean()))
    keep = []
    for mask, n in ((pos, n_pos), (~pos, max_pairs - n_pos)):
        idx = np.flatnonzero(mask)
        order = np.lexsort((rng.random(len(idx)), pairs.rank[idx]))
        keep.append(idx[order[:n]])
    return pairs.take(np.sort(np.concatenate(keep)))
