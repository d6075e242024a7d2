"""User-based collaborative filtering: what fans with tastes like yours loved.

A user's neighbours are the training users whose promoter sets (anime rated ``min_rating`` or
more) overlap most with theirs, by Jaccard or cosine; an anime scores the summed similarity of
the neighbours who promoted it. Any history works, so new users need no refit.

A rating ≤ 5 in the history (a dislike) lowers the similarity to every training user who
promoted that title by ``dislike_weight`` shared promotions (similarities are floored at 0), so
fans of what you disliked stop voting for your list.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Self

import numpy as np
import scipy.sparse as sp

from animerec.data.catalog import Catalog
from animerec.data.ratings import History, Ratings
from animerec.errors import AnimerecError
from animerec.recommend.base import Recommender
from animerec.recommend.explain import fans_reason
from animerec.recommend.itemspace import DISLIKE_MAX, ItemSpace, tie_break, weighted

SIMILARITIES = ("jaccard", "cosine")


class UserKNN(Recommender):
    """Scores = similarity-weighted promoter vectors of each user's ``neighbours`` nearest users."""

    name: ClassVar[str] = "userknn"
    search_space: ClassVar[dict[str, list]] = {
        "neighbours": [10, 25, 50, 100],
        "similarity": ["jaccard", "cosine"],
    }

    @dataclass
    class Params:
        neighbours: int = 25
        """Training users that vote for each user's recommendations."""
        similarity: str = "cosine"
        """``jaccard`` or ``cosine`` of the two promoter sets."""
        min_rating: int = 9
        """Ratings from this value up are promotions, in training and in a user's history."""
        dislike_weight: float = 0.0
        """Shared promotions one shared dislike is worth in the similarity (0: ignored)."""
        dislike_max: int = DISLIKE_MAX
        """Ratings at or below this are dislikes."""

    def __init__(self, params: Params | None = None) -> None:
        self.params = params or self.Params()
        if self.params.similarity not in SIMILARITIES:
            raise AnimerecError(
                f"userknn: unknown similarity {self.params.similarity!r}; "
                f"choose from {', '.join(SIMILARITIES)}"
            )
        if self.params.dislike_max >= self.params.min_rating:
            raise AnimerecError(
                f"userknn: dislike_max ({self.params.dislike_max}) must be below min_rating "
                f"({self.params.min_rating})"
            )
        self.space: ItemSpace | None = None
        self.P: sp.csr_matrix | None = None
        """Training users × items, 1 where the user promoted the item."""
        self._sizes: np.ndarray | None = None
        self._PT: sp.csr_matrix | None = None
        self.prior: np.ndarray | None = None
        """:func:`tie_break` of each item's promoter count."""

    def fit(self, train: Ratings, catalog: Catalog) -> Self:
        p = self.params
        space = ItemSpace.rated(train, catalog, min_rating=p.min_rating)
        P = weighted(space.train_matrix(train), p.min_rating)
        keep = np.diff(P.indptr) > 0  # users who promoted nothing can never be neighbours
        self.space, self.P, self.catalog = space, P[keep], catalog
        self._sizes, self._PT = None, None
        self.prior = tie_break(np.asarray(P.sum(axis=0)).ravel())
        return self

    @property
    def sizes(self) -> np.ndarray:
        if self._sizes is None:
            self._sizes = np.diff(self.P.indptr).astype(np.float32)
        return self._sizes

    @property
    def PT(self) -> sp.csr_matrix:
        """``P.T`` as CSR, built once: ``H @ P.T`` would convert the transpose on every call
        (most of a one-user request's cost here). The same matrix scipy builds, so the same
        products; it costs one more copy of ``P`` in memory."""
        if self._PT is None:
            self._PT = self.P.T.tocsr()
        return self._PT

    def neighbours(self, histories: Sequence[History]) -> sp.csr_matrix:
        """``[len(histories), n_training_users]`` similarity weights of each history's neighbours."""
        p = self.params
        # the promotions straight from the history (the same matrix as weighting the raw one)
        H = self.space.history_matrix(histories, min_rating=p.min_rating)
        co = (H @ self.PT).toarray()
        own = np.diff(H.indptr).astype(np.float32)[:, None]
        if self.params.similarity == "jaccard":
            denom = own + self.sizes[None, :] - co
        else:
            denom = np.sqrt(own * self.sizes[None, :])
        if p.dislike_weight:
            D = self.space.history_matrix(histories)
            D.data = np.where((D.data > 0) & (D.data <= p.dislike_max), 1.0, 0.0)
            D.eliminate_zeros()
            co = np.maximum(co + p.dislike_weight * (D @ self.PT).toarray(), 0.0)
        sim = np.divide(co, denom, out=np.zeros_like(co), where=denom > 0).astype(np.float32)
        k = max(1, min(self.params.neighbours, sim.shape[1]))
        top = np.sort(np.argpartition(-sim, k - 1, axis=1)[:, :k], axis=1)
        w = np.take_along_axis(sim, top, axis=1)
        # CSR straight from the sorted columns, zeros dropped: what the COO route built (its
        # canonical form sorts each row), without its conversions on every request
        keep = w != 0
        indptr = np.r_[0, np.cumsum(keep.sum(axis=1))]
        return sp.csr_matrix((w[keep], top[keep], indptr), shape=sim.shape, dtype=np.float32)

    def score(self, histories: Sequence[History]) -> np.ndarray:
        self.fitted_catalog()
        sub = (self.neighbours(histories) @ self.P).toarray().astype(np.float32, copy=False)
        return self.space.scatter(sub + self.prior)

    def reasons(self, history: History, anime_ids: np.ndarray, scores: np.ndarray) -> list[str]:
        catalog = self.fitted_catalog()
        W = self.neighbours([history])
        W.data[:] = 1.0
        fans = (W @ self.P).toarray()[0]
        cols = self.space.columns(anime_ids, catalog)
        return [
            fans_reason(int(fans[c]), self.params.min_rating)
            if c >= 0 and fans[c] > 0
            else "popular with fans"
            for c in cols
        ]

    def state(self) -> dict[str, np.ndarray]:
        return {
            "item_ids": self.space.item_ids,
            "indptr": self.P.indptr,
            "indices": self.P.indices,
            "prior": self.prior,
        }

    def set_state(self, arrays: dict[str, np.ndarray], catalog: Catalog) -> None:
        self.space = ItemSpace.restore(catalog, arrays["item_ids"])
        indptr, indices = arrays["indptr"], arrays["indices"]
        data = np.ones(len(indices), np.float32)
        self.P = sp.csr_matrix((data, indices, indptr), shape=(len(indptr) - 1, len(self.space)))
        self._sizes, self._PT = None, None
        self.prior = arrays["prior"]
        self.catalog = catalog
