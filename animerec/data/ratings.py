"""Ratings as columns (never a Python object per row) and the per-user histories built from them."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow.parquet as pq
import scipy.sparse as sp


@dataclass(frozen=True)
class Ratings:
    """``user_id, anime_id, rating`` as three aligned arrays (rating is 1–10)."""

    user_id: np.ndarray
    anime_id: np.ndarray
    rating: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.user_id)
        if len(self.anime_id) != n or len(self.rating) != n:
            raise ValueError("user_id, anime_id and rating must have the same length")

    @classmethod
    def from_arrays(cls, user_id: Iterable, anime_id: Iterable, rating: Iterable) -> Ratings:
        return cls(
            np.asarray(user_id, dtype=np.int64),
            np.asarray(anime_id, dtype=np.int64),
            np.asarray(rating, dtype=np.int8),
        )

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> Ratings:
        t = pq.read_table(path, columns=["user_id", "anime_id", "rating"])
        return cls.from_arrays(
            t.column("user_id").to_numpy(),
            t.column("anime_id").to_numpy(),
            t.column("rating").to_numpy(),
        )

    def __len__(self) -> int:
        return len(self.user_id)

    @property
    def users(self) -> np.ndarray:
        """Distinct user ids, sorted."""
        return np.unique(self.user_id)

    def take(self, mask: np.ndarray) -> Ratings:
        return Ratings(self.user_id[mask], self.anime_id[mask], self.rating[mask])

    def for_users(self, users: Iterable[int]) -> Ratings:
        """Only the ratings of ``users`` (the way evaluation keeps held-out users out)."""
        return self.take(np.isin(self.user_id, np.asarray(list(users), dtype=np.int64)))

    def matrix(
        self,
        item_ids: np.ndarray,
        user_ids: np.ndarray | None = None,
        values: np.ndarray | None = None,
    ) -> tuple[sp.csr_matrix, np.ndarray]:
        """A users × items CSR matrix over ``item_ids`` (ratings on other items are dropped).

        Returns the matrix and the user ids of its rows (sorted distinct users unless given).
        ``values`` defaults to the ratings themselves.
        """
        users = self.users if user_ids is None else np.asarray(user_ids, dtype=np.int64)
        rows = np.searchsorted(users, self.user_id)
        rows_ok = (rows < len(users)) & (users[np.minimum(rows, len(users) - 1)] == self.user_id)
        order = np.argsort(item_ids, kind="stable")
        sorted_items = np.asarray(item_ids)[order]
        pos = np.searchsorted(sorted_items, self.anime_id)
        pos_c = np.minimum(pos, len(sorted_items) - 1)
        cols_ok = (pos < len(sorted_items)) & (sorted_items[pos_c] == self.anime_id)
        keep = rows_ok & cols_ok
        vals = self.rating if values is None else values
        m = sp.csr_matrix(
            (np.asarray(vals[keep], dtype=np.float32), (rows[keep], order[pos_c[keep]])),
            shape=(len(users), len(item_ids)),
        )
        m.sum_duplicates()
        return m, users


@dataclass(frozen=True)
class History:
    """What one person has rated: the input a recommender sees for them."""

    anime_ids: np.ndarray
    ratings: np.ndarray

    @classmethod
    def of(cls, anime_ids: Sequence[int], ratings: Sequence[int] | None = None) -> History:
        ids = np.asarray(anime_ids, dtype=np.int64)
        r = np.full(len(ids), 10, np.int8) if ratings is None else np.asarray(ratings, np.int8)
        if len(r) != len(ids):
            raise ValueError("anime_ids and ratings must have the same length")
        return cls(ids, r)

    def __len__(self) -> int:
        return len(self.anime_ids)


def histories_from_ratings(ratings: Ratings) -> tuple[np.ndarray, list[History]]:
    """Split ratings into one :class:`History` per user; returns (sorted user ids, histories)."""
    order = np.lexsort((ratings.anime_id, ratings.user_id))
    u = ratings.user_id[order]
    users, starts = np.unique(u, return_index=True)
    bounds = np.append(starts, len(u))
    a, r = ratings.anime_id[order], ratings.rating[order]
    return users, [History(a[s:e], r[s:e]) for s, e in zip(bounds[:-1], bounds[1:], strict=True)]


def histories_matrix(
    histories: Sequence[History], item_ids: np.ndarray, *, values: str = "rating"
) -> sp.csr_matrix:
    """Histories as a users × items CSR matrix over ``item_ids`` (unknown items are dropped)."""
    n = len(histories)
    lens = np.fromiter((len(h) for h in histories), dtype=np.int64, count=n)
    user = np.repeat(np.arange(n, dtype=np.int64), lens)
    anime = np.concatenate([h.anime_ids for h in histories]) if n else np.zeros(0, np.int64)
    rating = np.concatenate([h.ratings for h in histories]) if n else np.zeros(0, np.int8)
    r = Ratings(user, anime, rating)
    vals = np.ones(len(r), np.float32) if values == "ones" else None
    m, _ = r.matrix(item_ids, user_ids=np.arange(n, dtype=np.int64), values=vals)
    return m
