"""The items a model works over: a subset of the catalog, and the way back to catalog positions.

Collaborative models only know items that training users rated, and dense ones (EASE) must keep
their item count small, so each model scores its own columns and :meth:`ItemSpace.scatter` puts
them into catalog positions, leaving ``-inf`` on everything the model cannot score.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.sparse as sp

from animerec.data.catalog import MAX_TABLE_ID, Catalog
from animerec.data.ratings import History, Ratings
from animerec.errors import AnimerecError


@dataclass(frozen=True)
class ItemSpace:
    """Model columns -> anime ids and catalog positions."""

    item_ids: np.ndarray
    positions: np.ndarray
    n_catalog: int

    @classmethod
    def of(cls, catalog: Catalog, item_ids: np.ndarray) -> ItemSpace:
        """The space of ``item_ids`` that are in ``catalog``, in catalog order."""
        pos = catalog.positions(np.asarray(item_ids, dtype=np.int64))
        pos = np.unique(pos[pos >= 0])
        return cls(catalog.anime_ids[pos], pos.astype(np.int64), len(catalog))

    @classmethod
    def rated(
        cls, train: Ratings, catalog: Catalog, *, min_rating: int = 1, min_count: int = 1
    ) -> ItemSpace:
        """Catalog items with at least ``min_count`` training ratings of ``min_rating`` or more."""
        ids, counts = np.unique(train.anime_id[train.rating >= min_rating], return_counts=True)
        space = cls.of(catalog, ids[counts >= min_count])
        if len(space) == 0:
            raise AnimerecError(
                f"no catalog anime has {min_count} or more training ratings of {min_rating}+: "
                "nothing to learn from"
            )
        return space

    @classmethod
    def restore(cls, catalog: Catalog, item_ids: np.ndarray) -> ItemSpace:
        """The space of a saved model, in its saved column order; every item must be in ``catalog``."""
        ids = np.asarray(item_ids, dtype=np.int64)
        pos = catalog.positions(ids)
        if (pos < 0).any():
            missing = ids[pos < 0]
            raise AnimerecError(
                f"the saved model knows {len(missing)} anime missing from this catalog "
                f"(e.g. anime_id {int(missing[0])}): it was fitted on a different catalog"
            )
        return cls(ids, pos.astype(np.int64), len(catalog))

    def __len__(self) -> int:
        return len(self.item_ids)

    @cached_property
    def column_of_position(self) -> np.ndarray:
        """Catalog position -> model column (-1 where the model has no column)."""
        col = np.full(self.n_catalog, -1, np.int64)
        col[self.positions] = np.arange(len(self.positions))
        return col

    def columns(self, anime_ids: np.ndarray, catalog: Catalog) -> np.ndarray:
        """Model columns of ``anime_ids`` (-1 where the model has none)."""
        pos = catalog.positions(anime_ids)
        return np.where(pos >= 0, self.column_of_position[np.maximum(pos, 0)], -1)

    @cached_property
    def column_of_id(self) -> np.ndarray | None:
        """Anime id -> model column (-1 where the model has none), a dense table over the ids up
        to the largest item id; None when the ids are too sparse for one."""
        ids = self.item_ids
        if len(ids) == 0 or ids.min() < 0 or ids.max() > max(MAX_TABLE_ID, 64 * len(ids)):
            return None
        table = np.full(int(ids.max()) + 1, -1, np.int64)
        table[ids] = np.arange(len(ids), dtype=np.int64)
        return table

    def id_columns(self, anime_ids: np.ndarray) -> np.ndarray:
        """Model columns of ``anime_ids`` (-1 where the model has none), without the catalog."""
        ids = np.asarray(anime_ids, dtype=np.int64)
        table = self.column_of_id
        if table is None:
            if len(self.item_ids) == 0:
                return np.full(ids.shape, -1, np.int64)
            order = np.argsort(self.item_ids, kind="stable")
            at = np.minimum(np.searchsorted(self.item_ids[order], ids), len(order) - 1)
            return np.where(self.item_ids[order][at] == ids, order[at], -1)
        inside = (ids >= 0) & (ids < len(table))
        return np.where(inside, table[np.where(inside, ids, 0)], -1)

    def train_matrix(self, train: Ratings) -> sp.csr_matrix:
        """Training users × model items, holding the ratings (users in sorted id order)."""
        m, _ = train.matrix(self.item_ids)
        return m

    def history_matrix(
        self,
        histories: Sequence[History],
        *,
        min_rating: int | None = None,
        graded: bool = False,
    ) -> sp.csr_matrix:
        """Histories × model items, holding the ratings (items outside the space are dropped;
        a repeated item's ratings are summed), or with ``min_rating`` their
        :func:`rating_weights` with the zeros dropped — ``weighted(history_matrix(h), ...)``.

        Built straight into CSR arrays: one history costs tens of microseconds, which matters
        when a request scores a single user (the generic COO route took ~0.3 ms)."""
        n, m = len(histories), len(self)
        if n == 1:
            ids, vals = histories[0].anime_ids, histories[0].ratings
            rows = np.zeros(len(ids), np.int64)
        else:
            lens = np.fromiter((len(h) for h in histories), np.int64, n)
            ids = np.concatenate([h.anime_ids for h in histories]) if n else np.zeros(0, np.int64)
            vals = np.concatenate([h.ratings for h in histories]) if n else np.zeros(0, np.int8)
            rows = np.repeat(np.arange(n, dtype=np.int64), lens)
        cols = self.id_columns(ids)
        keep = cols >= 0
        key = rows[keep] * m + cols[keep]
        data = np.asarray(vals, dtype=np.float32)[keep]
        if len(key) > 1 and not (key[1:] > key[:-1]).all():  # sort, and sum repeats
            order = np.argsort(key, kind="stable")
            key, data = key[order], data[order]
            first = np.r_[True, key[1:] != key[:-1]]
            if not first.all():
                data = np.add.reduceat(data, np.flatnonzero(first)).astype(np.float32)
                key = key[first]
        if min_rating is not None:
            data = rating_weights(data, min_rating, graded)
            nz = data != 0
            key, data = key[nz], data[nz]
        rows, cols = np.divmod(key, m)
        indptr = np.zeros(n + 1, np.int64)
        np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
        idx = np.int32 if max(m, len(key)) < np.iinfo(np.int32).max else np.int64
        return sp.csr_matrix((data, cols.astype(idx), indptr.astype(idx)), shape=(n, m), copy=False)

    def scatter(self, sub: np.ndarray) -> np.ndarray:
        """``float32 [n, n_catalog]`` with ``sub``'s columns in place and ``-inf`` elsewhere."""
        out = np.full((sub.shape[0], self.n_catalog), -np.inf, np.float32)
        out[:, self.positions] = sub
        return out


TIE_BREAK = 1e-6
"""Scale of the popularity prior :func:`tie_break` adds to neighbourhood scores."""


def tie_break(fans: np.ndarray) -> np.ndarray:
    """A tiny popularity prior (at most :data:`TIE_BREAK`) for neighbourhood models' scores.

    A user whose history shares nothing with the neighbourhoods scores 0 everywhere; with the
    prior they get the most promoted anime instead of the first in catalog order, and other
    rankings change only where scores differ by less than ``TIE_BREAK``.
    """
    fans = np.asarray(fans, dtype=np.float32)
    return (TIE_BREAK * fans / max(float(fans.max(initial=0)), 1.0)).astype(np.float32)


def rating_weights(ratings: np.ndarray, min_rating: int, graded: bool = False) -> np.ndarray:
    """Ratings -> positive weights: 1 from ``min_rating`` up, or ``r - min_rating + 1`` if graded.

    Everything under ``min_rating`` becomes 0 (callers drop the zeros).
    """
    r = np.asarray(ratings, dtype=np.float32)
    w = (r - (min_rating - 1)) if graded else np.ones_like(r)
    return np.where(r >= min_rating, w, 0).astype(np.float32)


def weighted(m: sp.csr_matrix, min_rating: int, graded: bool = False) -> sp.csr_matrix:
    """A copy of a ratings matrix with :func:`rating_weights` applied and zeros dropped."""
    out = m.copy().astype(np.float32)
    out.data = rating_weights(out.data, min_rating, graded)
    out.eliminate_zeros()
    return out


DISLIKE_MAX = 5
"""A rating at or below this is a dislike (issue 13: "a disliked title, or a rating ≤ 5")."""


def signed_inputs(
    space: ItemSpace,
    histories: Sequence[History],
    *,
    min_rating: int,
    graded: bool = False,
    dislike_weight: float = 0.0,
    dislike_max: int = DISLIKE_MAX,
) -> sp.csr_matrix:
    """Histories × model items: :func:`rating_weights` on the positives and, when
    ``dislike_weight`` is not 0, ``dislike_weight × (a 10's weight)`` on every rating
    ``≤ dislike_max`` — so a disliked title pushes away what is like it instead of being ignored
    (or, below ``min_rating``, counted as nothing at all). Ratings in between stay 0.

    Why one helper: every item-item model (EASE and its text variants, item-kNN, ∞-AE) turns a
    history into its input row the same way, so a dislike means the same thing in each.
    """
    pos = space.history_matrix(histories, min_rating=min_rating, graded=graded)
    if dislike_weight == 0.0:
        return pos
    if dislike_max >= min_rating:
        raise AnimerecError(
            f"dislike_max ({dislike_max}) must be below min_rating ({min_rating}): "
            "a rating cannot be a like and a dislike"
        )
    raw = space.history_matrix(histories)
    raw.data = np.where(raw.data <= dislike_max, 1.0, 0.0).astype(np.float32)
    raw.eliminate_zeros()
    top = float(rating_weights(np.array([10]), min_rating, graded)[0])
    out = (pos + raw * np.float32(dislike_weight * top)).tocsr()
    out.sort_indices()
    return out.astype(np.float32)
