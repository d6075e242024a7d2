"""The dislike step of the ranking pipeline: what fans who disliked the same title also disliked
moves down, for every model alike.

Why a pipeline step and not a model input: a negative input weight in the item-item models
(``dislike_weight``) pushes away the disliked title's *co-watched* neighbours — the user's own
taste region — and cost NDCG on validation users without lowering the detractor rate
(docs/experiments.md). What predicts a detractor is narrower: titles that the *same* training
users rated low. So each catalog title keeps its nearest neighbours by the cosine between the
sets of training users who rated the two titles ≤ 6 (:data:`~animerec.data.nps.DETRACTOR_MAX`),
and a history's disliked titles (ratings ≤ 5: an explicit dislike is a 1, a MAL dropped title
too) lower each neighbour's score by ``strength × similarity × the row's score spread`` (its
best score minus its 50th best), so one strength means the same for models whose scores live
on different scales. The strength was measured on validation users carved from the training
users (``benchmarks/dislike_study.py``; docs/experiments.md, "Dislikes count").

Histories without a dislike are untouched, as is every list shown for them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from animerec.data.catalog import Catalog
from animerec.data.nps import DETRACTOR_MAX
from animerec.data.ratings import History, Ratings
from animerec.errors import DataError
from animerec.recommend.itemspace import DISLIKE_MAX
from animerec.workspace import atomic_path

__all__ = [
    "DISLIKE_STRENGTH",
    "MIN_SHARED",
    "NEIGHBOURS",
    "SPREAD_DEPTH",
    "VALIDATED_STRENGTH",
    "DislikeNeighbours",
]

DISLIKE_STRENGTH = 0.0
"""The served strength: off. On validation users the step lowered EASE's detractor rate at
strength .5 without costing NDCG, but not the served ``adaptive`` model's (docs/experiments.md,
"Dislikes count"), so it is not on by default; ``--dislike-strength`` turns it on."""
VALIDATED_STRENGTH = 0.5
"""The strength validation chose for EASE (the one to use when the step is turned on)."""
NEIGHBOURS = 200
"""Neighbours kept per title (the strongest shared-dislike cosines)."""
MIN_SHARED = 1
"""Training users who must share two low ratings for the titles to be neighbours."""
SPREAD_DEPTH = 50
"""A row's score spread is its best score minus its ``SPREAD_DEPTH``-th best."""
_BLOCK = 512
"""Titles whose cosines are computed at once (bounds a dense ``[n_catalog, _BLOCK]`` block)."""


@dataclass(frozen=True)
class DislikeNeighbours:
    """Per catalog position, its neighbours by shared-dislike cosine (``-1`` / 0 pad)."""

    neighbours: np.ndarray
    """``int32 [n_catalog, m]`` catalog positions, strongest first."""
    weights: np.ndarray
    """``float32 [n_catalog, m]`` their cosines in (0, 1]."""

    @classmethod
    def of(
        cls,
        ratings: Ratings,
        catalog: Catalog,
        *,
        m: int = NEIGHBOURS,
        low: int = DETRACTOR_MAX,
        min_shared: int = MIN_SHARED,
    ) -> DislikeNeighbours:
        """From training ``ratings``: cos(a, b) = |users rating both ≤ ``low``| /
        √(|rating a ≤ low| · |rating b ≤ low|), kept where at least ``min_shared`` users share
        the two low ratings."""
        if m < 1:
            raise ValueError(f"m must be >= 1, got {m}")
        n = len(catalog)
        pos = catalog.positions(ratings.anime_id)
        keep = (pos >= 0) & (ratings.rating <= low)
        users, rows = np.unique(ratings.user_id[keep], return_inverse=True)
        L = sp.csc_matrix(
            (np.ones(int(keep.sum()), np.float32), (rows, pos[keep])), shape=(len(users), n)
        )
        counts = np.asarray(L.sum(axis=0)).ravel()
        norms = np.sqrt(counts)
        LT = L.T.tocsr()
        m_eff = min(m, max(n - 1, 1))
        nb = np.full((n, m_eff), -1, np.int32)
        wt = np.zeros((n, m_eff), np.float32)
        rated = np.flatnonzero(counts > 0)
        for s in range(0, len(rated), _BLOCK):
            block = rated[s : s + _BLOCK]
            shared = (LT @ L[:, block]).toarray().T  # [block, n]
            shared[np.arange(len(block)), block] = 0  # a title is not its own neighbour
            shared[shared < min_shared] = 0
            cos = shared / np.maximum(norms[block, None] * norms[None, :], 1e-12)
            top = np.argpartition(-cos, m_eff - 1, axis=1)[:, :m_eff]
            w = np.take_along_axis(cos, top, axis=1)
            order = np.argsort(-w, axis=1, kind="stable")
            top, w = np.take_along_axis(top, order, 1), np.take_along_axis(w, order, 1)
            nb[block] = np.where(w > 0, top, -1)
            wt[block] = np.where(w > 0, w, 0)
        return cls(nb, wt.astype(np.float32))

    def __len__(self) -> int:
        return len(self.neighbours)

    def penalties(self, history: History, catalog: Catalog) -> tuple[np.ndarray, np.ndarray]:
        """The catalog positions a history's dislikes push away and by how much (the strongest
        similarity to any of its disliked titles); empty without a dislike."""
        bad = catalog.positions(history.anime_ids[history.ratings <= DISLIKE_MAX])
        bad = bad[(bad >= 0) & (bad < len(self))]
        if not len(bad):
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        nb, w = self.neighbours[bad].ravel(), self.weights[bad].ravel()
        ok = nb >= 0
        nb, w = nb[ok].astype(np.int64), w[ok]
        if not len(nb):
            return nb, w
        order = np.lexsort((-w, nb))  # per position, its strongest similarity first
        nb, w = nb[order], w[order]
        first = np.r_[True, nb[1:] != nb[:-1]]
        return nb[first], w[first]

    def push_away(
        self,
        scores: np.ndarray,
        histories: Sequence[History],
        catalog: Catalog,
        strength: float,
    ) -> None:
        """Lower, in place, each row's scores of what its dislikes push away by ``strength ×
        similarity × spread`` (``-inf`` stays ``-inf``; rows without a dislike are untouched)."""
        if strength <= 0:
            return
        if len(self) != scores.shape[1]:
            raise DataError(
                f"dislike neighbours cover {len(self)} titles but the scores {scores.shape[1]}: "
                "they were built for another catalog"
            )
        for i, h in enumerate(histories):
            cols, w = self.penalties(h, catalog)
            if not len(cols):
                continue
            spread = _spread(scores[i])
            if spread > 0:
                scores[i, cols] -= np.float32(strength * spread) * w

    # --- persistence ------------------------------------------------------------------------
    def save(self, folder: str | os.PathLike[str]) -> None:
        """``neighbours.npy`` and ``weights.npy`` in ``folder`` (written atomically, no pickle)."""
        with atomic_path(folder) as tmp:
            tmp.mkdir()
            np.save(tmp / "neighbours.npy", self.neighbours)
            np.save(tmp / "weights.npy", self.weights)

    @classmethod
    def load(cls, folder: str | os.PathLike[str], catalog: Catalog) -> DislikeNeighbours:
        folder = Path(folder)
        nb = np.load(folder / "neighbours.npy", allow_pickle=False)
        w = np.load(folder / "weights.npy", allow_pickle=False)
        if nb.shape != w.shape or len(nb) != len(catalog):
            raise DataError(
                f"{folder}: neighbours {nb.shape} and weights {w.shape} do not fit a catalog of "
                f"{len(catalog)} titles"
            )
        return cls(nb.astype(np.int32), w.astype(np.float32))


def _spread(row: np.ndarray) -> float:
    """The row's best finite score minus its ``SPREAD_DEPTH``-th best (fewer: its worst)."""
    finite = row[np.isfinite(row)]
    if len(finite) < 2:
        return 0.0
    d = min(SPREAD_DEPTH, len(finite)) - 1
    top = np.partition(-finite, d)[: d + 1]  # the d + 1 best, negated
    return float(top.max() - top.min())
