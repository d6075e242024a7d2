"""EASE (Steck 2019, "Embarrassingly Shallow Autoencoders"): a closed-form item-item model.

``B = argmin ||X - XB||² + λ||B||²`` with ``diag(B) = 0`` has the solution
``B = I - P·diag(1/diag(P))`` for ``P = (XᵀX + λI)⁻¹``; a user's scores are ``x·B``, divided by
``(raters + 1)^β`` to lift good but less-watched titles. With a few thousand items the dense
inverse takes seconds, and it is the bar other models must clear.

Cheap closed-form refinements (issue 13), each off by default so today's figures do not move:

- **dropout emphasis** (EDLAE, Steck 2020 "Autoencoders that don't overfit towards the
  identity"): dropout of input items with probability ``p`` is, in expectation, the diagonal
  penalty ``Λ = λI + p/(1-p)·diagMat(diag(XᵀX))`` — popular items are regularised more;
- **user degree normalisation**: training row ``u`` weighted by ``n_u^-γ`` (``n_u`` = its
  positives), so heavy raters do not dominate the Gram matrix;
- **item degree normalisation**: the columns of ``X`` divided by ``(positive raters + 1)^α``
  before the regression (a per-item weighting of loss and penalty), scores kept in that scale;
- **rating targets**: inputs ``X`` = ratings ≥ ``min_rating`` but targets ``Y`` = ratings ≥
  ``target_rating`` (say, predict the 9s and 10s from the 7s and up): the zero-diagonal ridge
  ``B = argmin ||Y - XB||² + ||Λ^½B||²`` is ``B = P·XᵀY - P·diagMat(diag(P·XᵀY) / diag(P))``;
- **popularity prior**: the row-normalised scores plus ``η ×`` each item's share of promoters;
- **dislikes**: a rating ≤ 5 in the history enters the input row with a negative weight.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import ClassVar, Self

import numpy as np
import scipy.linalg.lapack as lapack
import scipy.sparse as sp

from animerec.data.catalog import Catalog
from animerec.data.ratings import History, Ratings
from animerec.errors import AnimerecError
from animerec.recommend.base import Recommender
from animerec.recommend.explain import liked_reasons
from animerec.recommend.itemspace import DISLIKE_MAX, ItemSpace, signed_inputs, weighted

__all__ = ["EASE", "SCORE_TIME", "constrained_ridge", "spd_inverse"]

SCORE_TIME = frozenset({"popularity_discount", "popularity_blend", "dislike_weight", "dislike_max"})
"""Parameters that act only when scoring: :meth:`EASE.rescored` changes them without a refit."""
PROMOTER = 9
"""Ratings from this value up count as promoters in the popularity prior."""


def spd_inverse(A: np.ndarray) -> np.ndarray:
    """The inverse of a symmetric positive-definite matrix by Cholesky (half the work of LU)."""
    a = np.asarray(A, dtype=np.float64, order="F")
    c, info = lapack.dpotrf(a, lower=False, overwrite_a=False)
    if info != 0:
        raise AnimerecError(f"the Gram matrix plus penalty is not positive definite (info {info})")
    inv, info = lapack.dpotri(c, lower=False, overwrite_c=True)
    if info != 0:
        raise AnimerecError(f"inverting the penalised Gram matrix failed (info {info})")
    upper = np.triu(inv)
    return upper + np.triu(inv, 1).T


def constrained_ridge(
    G: np.ndarray, penalty: np.ndarray | float, C: np.ndarray | None = None
) -> np.ndarray:
    """``argmin_B tr(BᵀGB) - 2tr(BᵀC) + Σ_j penalty_j ||B_j||²`` subject to ``diag(B) = 0``.

    That is ``||Y - XB||² + ||Λ^½B||²`` with ``G = XᵀX``, ``C = XᵀY`` (``None``: ``C = G``, the
    autoencoder). Lagrange: ``(G + Λ)B = C - diagMat(γ)``, so with ``P = (G + Λ)⁻¹``,
    ``B = P·C - P·diagMat(γ)`` and ``γ_j = (P·C)_jj / P_jj`` zeroes the diagonal. For ``C = G``
    this is EASE's ``I - P·diagMat(1/diag(P))``.
    """
    n = G.shape[0]
    A = np.array(G, dtype=np.float64)
    A[np.diag_indices(n)] += np.broadcast_to(np.asarray(penalty, np.float64), (n,))
    P = spd_inverse(A)
    d = np.diag(P).copy()
    if C is None:
        B = P / -d
        B[np.diag_indices(n)] = 0.0
        return B
    B = P @ np.asarray(C, dtype=np.float64)
    B -= P * (np.diag(B) / d)[None, :]
    B[np.diag_indices(n)] = 0.0
    return B


class EASE(Recommender):
    """Item-item weights from a ridge regression of every item on all the others."""

    name: ClassVar[str] = "ease"
    search_space: ClassVar[dict[str, list]] = {
        "l2": [250.0, 1000.0, 2000.0, 5000.0, 20000.0, 100000.0],
        "min_rating": [7, 8],
        "popularity_discount": [0.0, 0.2, 0.4],
    }
    """λ up to 100 000: on validation users few likes want far more smoothing (λ 1000 wins the
    hold-out, 50 000–100 000 one to five likes; benchmarks/ease_study.py). The refinements
    below are chosen per protocol by that study rather than here, where each point is a fit."""

    @dataclass
    class Params:
        l2: float = 1000.0
        """λ, the ridge penalty on B (larger = smoother, more popular items)."""
        min_rating: int = 7
        """Ratings from this value up are positives (the rest count as unseen)."""
        graded: bool = True
        """Weight a positive by ``rating - min_rating + 1`` instead of 1 (a 10 counts 4× a 7):
        on the sample this lifts NDCG@10 from .38 to .42 and NPS@10 from +.53 to +.63."""
        min_item_raters: int = 3
        """Model only anime with this many positive training raters (keeps the inverse small)."""
        popularity_discount: float = 0.2
        """β: scores are divided by ``(training raters + 1)^β``. EASE favours what many people
        watched; on the sample β = 0.2 raises NDCG@10 (.422 → .433) and coverage."""
        drop_p: float = 0.0
        """EDLAE dropout probability ``p`` in [0, 1): adds ``p/(1-p)·diag(XᵀX)`` to the penalty."""
        user_norm: float = 0.0
        """γ: training user rows weighted by ``(their positives)^-γ`` in the Gram matrix."""
        item_norm: float = 0.0
        """α: item columns divided by ``(positive raters + 1)^α`` before the regression."""
        target_rating: int | None = None
        """Targets are the ratings from this value up (None: the inputs, plain EASE)."""
        popularity_blend: float = 0.0
        """η: row-normalised scores plus ``η × promoters / max promoters`` (0: off)."""
        dislike_weight: float = 0.0
        """Input weight of a rating ≤ ``dislike_max``, in units of a 10's weight (0: ignored)."""
        dislike_max: int = DISLIKE_MAX
        """Ratings at or below this are dislikes."""

    def __init__(self, params: Params | None = None) -> None:
        self.params = params or self.Params()
        p = self.params
        if not 0.0 <= p.drop_p < 1.0:
            raise AnimerecError(f"{self.name}: drop_p must be in [0, 1), got {p.drop_p}")
        self.space: ItemSpace | None = None
        self.B: np.ndarray | None = None
        self.item_weight: np.ndarray | None = None
        """``(raters + 1)^-β`` per model item, applied to the scores."""
        self.prior: np.ndarray | None = None
        """Promoter share per model item (the popularity prior's values, max 1)."""
        self.raters: np.ndarray | None = None
        """Training raters (any rating) per model item; kept after a fit, not saved."""
        self._last = threading.local()
        """The last single history scored on this thread and its input row, for reasons()."""

    # --- fitting --------------------------------------------------------------------------------
    def fit(self, train: Ratings, catalog: Catalog) -> Self:
        p = self.params
        space = ItemSpace.rated(
            train, catalog, min_rating=p.min_rating, min_count=p.min_item_raters
        )
        R = space.train_matrix(train)
        X = weighted(R, p.min_rating, p.graded)
        scale = (X.getnnz(axis=0) + 1.0) ** -p.item_norm
        Xs = X @ sp.diags(scale)
        Xw = Xs
        if p.user_norm:
            n_u = np.maximum(np.diff(X.indptr), 1).astype(np.float64)
            Xw = sp.diags(n_u**-p.user_norm) @ Xs
        G = (Xw.T @ Xs).toarray().astype(np.float64)
        C = None
        if p.target_rating is not None:
            Y = weighted(R, p.target_rating, p.graded) @ sp.diags(scale)
            C = (Xw.T @ Y).toarray().astype(np.float64)
        penalty = p.l2 + p.drop_p / (1.0 - p.drop_p) * np.diag(G)
        B = self.solve(G, penalty, C, space, catalog)
        B = scale[:, None] * B  # scores x·B = (x·scale)·B̃: the normalised model's own scale
        cols = space.columns(train.anime_id, catalog)
        raters = np.bincount(cols[cols >= 0], minlength=len(space))  # any rating counts
        fans = np.asarray((R >= PROMOTER).sum(axis=0)).ravel().astype(np.float64)
        self.raters = raters
        self.item_weight = ((raters + 1.0) ** -p.popularity_discount).astype(np.float32)
        self.prior = (fans / max(fans.max(initial=0.0), 1.0)).astype(np.float32)
        self.space, self.B, self.catalog = space, B.astype(np.float32), catalog
        return self

    def solve(
        self,
        G: np.ndarray,
        penalty: np.ndarray,
        C: np.ndarray | None,
        space: ItemSpace,
        catalog: Catalog,
    ) -> np.ndarray:
        """The item-item matrix from the Gram matrix; text-regularised variants override this."""
        return constrained_ridge(G, penalty, C)

    def rescored(self, **changes: float) -> Self:
        """A copy sharing the fitted matrix with score-time parameters (:data:`SCORE_TIME`)
        changed: what a refit with them would score, without the inverse (grid searches)."""
        unknown = sorted(set(changes) - SCORE_TIME)
        if unknown:
            raise AnimerecError(f"{self.name}: {', '.join(unknown)} need a refit, not a rescore")
        if self.raters is None:
            raise AnimerecError(f"{self.name}: rescored() needs a model fitted in this process")
        out = copy.copy(self)
        out.params = replace(self.params, **changes)
        out.item_weight = ((self.raters + 1.0) ** -out.params.popularity_discount).astype(
            np.float32
        )
        out._last = threading.local()
        return out

    # --- scoring --------------------------------------------------------------------------------
    def _inputs(self, histories: Sequence[History]) -> sp.csr_matrix:
        p = self.params
        return signed_inputs(
            self.space,
            histories,
            min_rating=p.min_rating,
            graded=p.graded,
            dislike_weight=p.dislike_weight,
            dislike_max=p.dislike_max,
        )

    def score(self, histories: Sequence[History]) -> np.ndarray:
        self.fitted_catalog()
        x = self._inputs(histories)
        if len(histories) == 1:  # a request: reasons() follows for the same history
            self._last.input = (histories[0], x)
        sub = np.asarray(x @ self.B, dtype=np.float32) * self.item_weight
        if self.params.popularity_blend:
            top = np.abs(sub).max(axis=1, keepdims=True)
            sub = sub / np.where(top > 0, top, 1.0) + self.params.popularity_blend * self.prior
        return self.space.scatter(sub.astype(np.float32, copy=False))

    def reasons(self, history: History, anime_ids: np.ndarray, scores: np.ndarray) -> list[str]:
        catalog = self.fitted_catalog()
        last = getattr(self._last, "input", None)
        x = last[1] if last is not None and last[0] is history else self._inputs([history])
        liked = x.data > 0  # a disliked title is never the reason for a recommendation
        hist_cols, weights = x.indices[liked], x.data[liked]
        rec_cols = self.space.columns(anime_ids, catalog)
        contrib = weights[:, None] * self.B[np.ix_(hist_cols, np.maximum(rec_cols, 0))]
        contrib[:, rec_cols < 0] = 0.0
        return liked_reasons(
            catalog, self.space.item_ids[hist_cols], contrib, "liked by people with your taste"
        )

    # --- persistence ----------------------------------------------------------------------------
    def state(self) -> dict[str, np.ndarray]:
        return {
            "item_ids": self.space.item_ids,
            "B": self.B,
            "item_weight": self.item_weight,
            "prior": self.prior,
        }

    def set_state(self, arrays: dict[str, np.ndarray], catalog: Catalog) -> None:
        self.space = ItemSpace.restore(catalog, arrays["item_ids"])
        self.B = arrays["B"].astype(np.float32, copy=False)
        self.item_weight = arrays["item_weight"].astype(np.float32, copy=False)
        prior = arrays.get("prior")  # saved before the popularity prior existed: none
        self.prior = (
            np.zeros(len(self.space), np.float32) if prior is None else prior.astype(np.float32)
        )
        self.catalog = catalog
