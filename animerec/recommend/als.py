"""Matrix factorisation: implicit's ALS with confidence from ratings (Hu, Koren & Volinsky 2008).

A rating ``r ≥ min_rating`` is a positive with confidence ``1 + alpha·w(r)`` (``w`` = 1, or graded
``r - min_rating + 1``); everything else is an unobserved zero. New users are folded in from their
history by the same least-squares step ALS uses for users (implicit's ``recalculate_user``), so
scoring needs only the item factors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Self

import numpy as np
import scipy.sparse as sp
from implicit.cpu.als import AlternatingLeastSquares
from threadpoolctl import ThreadpoolController, threadpool_limits

from animerec.data.catalog import Catalog
from animerec.data.ratings import History, Ratings
from animerec.recommend.base import Recommender
from animerec.recommend.explain import liked_reasons
from animerec.recommend.itemspace import ItemSpace, weighted
from animerec.recommend.state_files import copy_on_write

_controller: ThreadpoolController | None = None


def _blas_controller() -> ThreadpoolController:
    """One controller, made once the BLAS libraries implicit uses are loaded: entering its
    ``limit`` costs ~16 µs, a fresh ``threadpool_limits`` ~0.5 ms (it scans every library)."""
    global _controller
    if _controller is None:
        _controller = ThreadpoolController()
    return _controller


class ALS(Recommender):
    """Latent factors for users and anime; a user's scores are ``u · Vᵀ``."""

    name: ClassVar[str] = "als"
    search_space: ClassVar[dict[str, list]] = {
        "factors": [64, 128, 256],
        "regularization": [5.0, 10.0, 20.0],
    }

    @dataclass
    class Params:
        factors: int = 256
        regularization: float = 20.0
        """L2 penalty on the factors (implicit's ``regularization``)."""
        alpha: float = 1.0
        """Confidence of a positive is ``1 + alpha·w(rating)``."""
        iterations: int = 15
        min_rating: int = 7
        """Ratings from this value up are positives; lower ones count as unobserved."""
        graded: bool = True
        """Confidence grows with the rating (``w = rating - min_rating + 1``) instead of ``w = 1``."""
        min_item_raters: int = 1
        """Model only anime with this many positive training raters."""
        threads: int = 1
        """Fitting threads (0 = all cores); results do not depend on it."""
        seed: int = 42

    def __init__(self, params: Params | None = None) -> None:
        self.params = params or self.Params()
        self.space: ItemSpace | None = None
        self.model: AlternatingLeastSquares | None = None
        self._unit_items: np.ndarray | None = None

    def _new_model(self) -> AlternatingLeastSquares:
        p = self.params
        # implicit parallelises itself (and warns when BLAS would add threads of its own)
        with threadpool_limits(1, "blas"):
            return AlternatingLeastSquares(
                factors=p.factors,
                regularization=p.regularization,
                alpha=1.0,  # confidence is built by _confidence, not scaled again inside implicit
                iterations=p.iterations,
                num_threads=p.threads,
                random_state=p.seed,
            )

    def _confidence(self, ratings: sp.csr_matrix, *, is_weighted: bool = False) -> sp.csr_matrix:
        p = self.params
        c = ratings if is_weighted else weighted(ratings, p.min_rating, p.graded)
        c.data = 1.0 + p.alpha * c.data
        return c

    def fit(self, train: Ratings, catalog: Catalog) -> Self:
        p = self.params
        space = ItemSpace.rated(
            train, catalog, min_rating=p.min_rating, min_count=p.min_item_raters
        )
        C = self._confidence(space.train_matrix(train))
        model = self._new_model()
        with threadpool_limits(1, "blas"):
            model.fit(C, show_progress=False)
        self.space, self.model, self.catalog = space, model, catalog
        self._unit_items = None
        return self

    @property
    def item_factors(self) -> np.ndarray:
        return self.model.item_factors

    def user_factors(self, histories: Sequence[History]) -> np.ndarray:
        """Factors of new users solved from their histories (item factors fixed).

        implicit solves user by user with small BLAS calls; left to their default pools those
        calls spin threads against each other and other jobs: 401 users took 18 s instead of
        1.3 s on a loaded 2-core machine, so BLAS runs on one thread here."""
        p = self.params
        X = self.space.history_matrix(histories, min_rating=p.min_rating, graded=p.graded)
        C = self._confidence(X, is_weighted=True)
        with _blas_controller().limit(limits=1, user_api="blas"):
            return self.model.recalculate_user(np.arange(len(histories)), C)

    def score(self, histories: Sequence[History]) -> np.ndarray:
        self.fitted_catalog()
        if not histories:
            return self.space.scatter(np.zeros((0, len(self.space)), np.float32))
        sub = self.user_factors(histories) @ self.item_factors.T
        return self.space.scatter(sub.astype(np.float32, copy=False))

    def reasons(self, history: History, anime_ids: np.ndarray, scores: np.ndarray) -> list[str]:
        """Credit the history item whose factors are most similar (cosine) to the recommended one."""
        catalog = self.fitted_catalog()
        if self._unit_items is None:
            V = self.item_factors
            norms = np.linalg.norm(V, axis=1, keepdims=True)
            self._unit_items = V / np.where(norms > 0, norms, 1)
        hist_cols = self.space.history_matrix([history], min_rating=self.params.min_rating).indices
        rec_cols = self.space.columns(anime_ids, catalog)
        U = self._unit_items
        contrib = U[hist_cols] @ U[np.maximum(rec_cols, 0)].T
        contrib[:, rec_cols < 0] = 0.0
        return liked_reasons(
            catalog, self.space.item_ids[hist_cols], contrib, "matches the taste of your ratings"
        )

    def state(self) -> dict[str, np.ndarray]:
        return {"item_ids": self.space.item_ids, "item_factors": self.item_factors}

    def set_state(self, arrays: dict[str, np.ndarray], catalog: Catalog) -> None:
        self.space = ItemSpace.restore(catalog, arrays["item_ids"])
        model = self._new_model()
        # implicit's kernels want writable buffers: a private map of the file, shared until written
        factors = copy_on_write(arrays["item_factors"])
        model.item_factors = np.ascontiguousarray(factors, dtype=np.float32)
        self.model, self.catalog = model, catalog
        self._unit_items = None
