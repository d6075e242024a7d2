"""Item-based collaborative filtering: anime whose fans overlap with the fans of what you loved.

Two anime are similar by the Jaccard score of their promoter sets (training users who rated each
``min_rating`` or more). Each candidate keeps its ``neighbours`` most similar anime in a sparse
table ``S`` (column ``j`` holds the neighbours of ``j``), so scoring a user is one sparse product:
``score_j = Σ_{i promoted, i among j's neighbours} S[i, j]``. Keeping the candidate's neighbours
(not the history item's) is the classic item-kNN, and measurably better here.

A rating ≤ 5 in the history (a dislike) enters the sum with ``dislike_weight`` (negative), so it
pushes down its own neighbours instead of being ignored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Self

import numpy as np
import scipy.sparse as sp

from animerec.data.catalog import Catalog
from animerec.data.ratings import History, Ratings
from animerec.recommend.base import Recommender
from animerec.recommend.explain import liked_reasons
from animerec.recommend.itemspace import (
    DISLIKE_MAX,
    ItemSpace,
    signed_inputs,
    tie_break,
    weighted,
)

BLOCK = 1024
"""Rows of the co-occurrence matrix computed at once (bounds memory for large catalogs)."""


def jaccard_neighbours(promoters: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """``[items, items]`` table keeping each row's ``k`` best Jaccard scores (diagonal excluded).

    ``promoters`` is users × items, 0/1. Co-occurrence comes from sparse products in row blocks;
    pairs without a shared promoter are never neighbours.
    """
    P = promoters.tocsc().astype(np.float32)
    n_items = P.shape[1]
    fans = np.asarray(P.sum(axis=0)).ravel()
    PT = P.T.tocsr()
    k = max(0, min(k, n_items - 1))
    rows, cols, vals = [], [], []
    for start in range(0, n_items, BLOCK):
        stop = min(start + BLOCK, n_items)
        co = (PT[start:stop] @ P).toarray()
        union = fans[start:stop, None] + fans[None, :] - co
        sim = np.divide(co, union, out=np.zeros_like(co), where=union > 0)
        sim[np.arange(stop - start), np.arange(start, stop)] = 0.0
        if k == 0:
            continue
        top = np.argpartition(-sim, k - 1, axis=1)[:, :k]
        v = np.take_along_axis(sim, top, axis=1)
        keep = v > 0
        rows.append(np.nonzero(keep)[0] + start)
        cols.append(top[keep])
        vals.append(v[keep])
    if not rows:
        return sp.csr_matrix((n_items, n_items), dtype=np.float32)
    return sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n_items, n_items),
        dtype=np.float32,
    )


class ItemKNN(Recommender):
    """Summed Jaccard similarity of each candidate to the anime a user promoted."""

    name: ClassVar[str] = "itemknn"
    search_space: ClassVar[dict[str, list]] = {
        "neighbours": [10, 20, 50, 100, 200],
        "min_rating": [8, 9],
    }

    @dataclass
    class Params:
        neighbours: int = 20
        """Nearest anime kept per candidate: only they add to its score."""
        min_rating: int = 9
        """Ratings from this value up are promotions, in training and in a user's history."""
        dislike_weight: float = 0.0
        """Weight of a rating ≤ ``dislike_max`` in the history sum (0: ignored; a promotion is 1)."""
        dislike_max: int = DISLIKE_MAX
        """Ratings at or below this are dislikes."""

    def __init__(self, params: Params | None = None) -> None:
        self.params = params or self.Params()
        self.space: ItemSpace | None = None
        self.S: sp.csr_matrix | None = None
        self.prior: np.ndarray | None = None
        """:func:`tie_break` of each item's promoter count."""

    def fit(self, train: Ratings, catalog: Catalog) -> Self:
        p = self.params
        space = ItemSpace.rated(train, catalog, min_rating=p.min_rating)
        promoters = weighted(space.train_matrix(train), p.min_rating)
        # row j of the table = j's neighbours; transposed, a history row sums into candidates
        self.space, self.S = space, jaccard_neighbours(promoters, p.neighbours).T.tocsr()
        self.prior = tie_break(np.asarray(promoters.sum(axis=0)).ravel())
        self.catalog = catalog
        return self

    def _promoted(self, histories: Sequence[History]) -> sp.csr_matrix:
        """Histories × items: 1 per promotion, ``dislike_weight`` per dislike."""
        p = self.params
        return signed_inputs(
            self.space,
            histories,
            min_rating=p.min_rating,
            dislike_weight=p.dislike_weight,
            dislike_max=p.dislike_max,
        )

    def score(self, histories: Sequence[History]) -> np.ndarray:
        self.fitted_catalog()
        sub = (self._promoted(histories) @ self.S).toarray().astype(np.float32, copy=False)
        return self.space.scatter(sub + self.prior)

    def reasons(self, history: History, anime_ids: np.ndarray, scores: np.ndarray) -> list[str]:
        catalog = self.fitted_catalog()
        x = self._promoted([history])
        hist_cols = x.indices[x.data > 0]  # a disliked title is never the reason
        rec_cols = self.space.columns(anime_ids, catalog)
        contrib = self.S[hist_cols][:, np.maximum(rec_cols, 0)].toarray()
        contrib[:, rec_cols < 0] = 0.0
        return liked_reasons(
            catalog,
            self.space.item_ids[hist_cols],
            contrib,
            "popular with fans",
        )

    def state(self) -> dict[str, np.ndarray]:
        return {
            "item_ids": self.space.item_ids,
            "indptr": self.S.indptr,
            "indices": self.S.indices,
            "data": self.S.data,
            "prior": self.prior,
        }

    def set_state(self, arrays: dict[str, np.ndarray], catalog: Catalog) -> None:
        self.space = ItemSpace.restore(catalog, arrays["item_ids"])
        n = len(self.space)
        self.S = sp.csr_matrix((arrays["data"], arrays["indices"], arrays["indptr"]), shape=(n, n))
        self.prior = arrays["prior"]
        self.catalog = catalog
