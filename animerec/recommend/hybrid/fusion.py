"""Fusion features: per-user standardised member scores and the item priors that may join them.

A member's scale must not decide its say in the fused score, so each user's scores are
z-scored over the user's best unseen anime (:func:`standardise`); the priors (:class:`ItemPriors`)
are user-independent statistics of the training ratings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from animerec.data.catalog import Catalog
from animerec.data.ratings import History, Ratings

__all__ = ["PRIORS", "QUALITY_PRIOR_WEIGHT", "ItemPriors", "seen_mask", "standardise"]

PRIORS = ("quality", "popularity")
QUALITY_PRIOR_WEIGHT = 10.0
"""Pseudo-raters pulling an anime's 9+ share toward the catalog-wide share (few raters → prior)."""


def standardise(scores: np.ndarray, seen: np.ndarray | None = None, head: int = 0) -> np.ndarray:
    """Per-row z-scores. The mean and spread come from the row's ``head`` best finite entries
    that are not ``seen`` (all finite entries when ``head`` is 0): what matters in fusion is
    how a member separates its top candidates, not how the long tail of the catalog is spread.
    Entries a member cannot score get the row's lowest z-score (the member says nothing for
    them); rows with no spread become zeros."""
    s = np.asarray(scores, dtype=np.float32)
    fin = np.isfinite(s)
    all_finite = bool(fin.all())
    if not all_finite and np.isnan(s).any():
        s = np.where(np.isnan(s), -np.inf, s)
    if head > 0:
        pool = s if seen is None else np.where(seen, -np.inf, s)
        h = min(head, s.shape[1])
        # Select from the low end of the negated scores: selecting the top end of rows where
        # most entries are −inf (a member that scores a quarter of the catalog) hits numpy's
        # slow path for runs of equal values (0.4 ms a row instead of 0.02 ms). Sorted, so the
        # sums below do not depend on the order partition leaves.
        best = np.partition(-pool, h - 1, axis=1)[:, :h]
        best.sort(axis=1)
        best = -best[:, ::-1]
        ok = np.isfinite(best)
        if ok.all():
            mean = best.mean(axis=1, keepdims=True)
            std = best.std(axis=1, keepdims=True)
        else:
            n = np.maximum(ok.sum(axis=1, keepdims=True), 1)
            b = np.where(ok, best, 0.0)
            mean = b.sum(axis=1, keepdims=True) / n
            std = np.sqrt((np.where(ok, b - mean, 0.0) ** 2).sum(axis=1, keepdims=True) / n)
    else:
        x = np.where(fin, s, 0.0)
        n = np.maximum(fin.sum(axis=1, keepdims=True), 1)
        mean = x.sum(axis=1, keepdims=True) / n
        std = np.sqrt((np.where(fin, x - mean, 0.0) ** 2).sum(axis=1, keepdims=True) / n)
    flat = std <= 0
    mean = mean.astype(np.float32)
    std = np.where(flat, 1, std).astype(np.float32)
    z = (s - mean) / std
    if not all_finite:  # unscorable (−inf) entries: the row's lowest z-score
        low = np.where(fin, s, np.inf).min(axis=1, keepdims=True)
        low = np.where(np.isfinite(low), (low - mean) / std, 0.0).astype(np.float32)
        np.maximum(z, low, out=z)  # only the −inf entries are below the lowest finite one
    if flat.any():
        z[flat[:, 0]] = 0.0
    return z


def seen_mask(histories: Sequence[History], catalog: Catalog) -> np.ndarray:
    """``bool [len(histories), len(catalog)]``: True where a history holds the anime."""
    out = np.zeros((len(histories), len(catalog)), bool)
    for i, h in enumerate(histories):
        pos = catalog.positions(h.anime_ids)
        out[i, pos[pos >= 0]] = True
    return out


@dataclass(frozen=True)
class ItemPriors:
    """Per-catalog-item statistics of the training ratings (user-independent features)."""

    raters: np.ndarray
    promoters: np.ndarray

    @classmethod
    def of(cls, train: Ratings, catalog: Catalog) -> ItemPriors:
        pos = catalog.positions(train.anime_id)
        ok = pos >= 0
        raters = np.bincount(pos[ok], minlength=len(catalog))
        promoters = np.bincount(pos[ok & (train.rating >= 9)], minlength=len(catalog))
        return cls(raters.astype(np.int64), promoters.astype(np.int64))

    def quality(self) -> np.ndarray:
        """Smoothed share of raters who rated the anime 9+."""
        base = self.promoters.sum() / max(self.raters.sum(), 1)
        a = QUALITY_PRIOR_WEIGHT
        return ((self.promoters + a * base) / (self.raters + a)).astype(np.float32)

    def debias(self, alpha: float) -> np.ndarray:
        """``raters^α`` (at least 1): the divisor that lifts less popular anime's scores."""
        return np.power(np.maximum(self.raters, 1), alpha).astype(np.float32)

    def popularity(self) -> np.ndarray:
        return np.log1p(self.raters).astype(np.float32)

    def feature(self, name: str) -> np.ndarray:
        """The prior ``name`` standardised over the anime rated at least once."""
        v = self.quality() if name == "quality" else self.popularity()
        rated = self.raters > 0
        ref = v[rated] if rated.any() else v
        std = float(ref.std()) or 1.0
        return ((v - float(ref.mean())) / std).astype(np.float32)
