"""∞-AE (Sachdeva et al., NeurIPS 2022, "Infinite Recommendation Networks"): an autoencoder of
infinite width, trained to convergence, which is kernel ridge regression with its neural tangent
kernel — a closed form over *users*.

For a one-hidden-layer ReLU network (no biases) the NTK of two inputs ``x, x'`` at angle ``θ`` is

    Θ(x, x') = ‖x‖‖x'‖ / (2π) · [sin θ + 2(π − θ) cos θ]

(the arc-cosine kernels of orders 1 and 0: the output layer's and the hidden layer's gradients).
With the training users' rows ``U`` (weighted positives, as EASE builds them) the fitted model is
``α = (K(U, U) + λ·mean(diag K)·I)⁻¹ U`` and a history ``x`` scores ``Θ(x, U)·α``: a user-user
model, as cheap as the number of training users (~1.2 k in the sample) allows. λ is relative to
the mean diagonal so that it does not depend on the ratings' scale. Dislikes enter ``x`` with a
negative weight, which lowers its kernel to the fans of what it disliked.
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
from animerec.recommend.ease import spd_inverse
from animerec.recommend.itemspace import DISLIKE_MAX, ItemSpace, signed_inputs, weighted

__all__ = ["InfiniteAE", "relu_ntk"]


def relu_ntk(dots: np.ndarray, norm_a: np.ndarray, norm_b: np.ndarray) -> np.ndarray:
    """``Θ`` of a one-hidden-layer ReLU net from dot products ``[a, b]`` and the two sides'
    norms (0 where either input is all zeros)."""
    nn = np.outer(norm_a, norm_b)
    cos = np.divide(dots, nn, out=np.zeros_like(dots, dtype=np.float64), where=nn > 0)
    theta = np.arccos(np.clip(cos, -1.0, 1.0))
    return nn * (np.sin(theta) + 2.0 * (np.pi - theta) * cos) / (2.0 * np.pi)


class InfiniteAE(Recommender):
    """Kernel ridge regression of every training user's row on the others, by the NTK."""

    name: ClassVar[str] = "infae"
    search_space: ClassVar[dict[str, list]] = {
        "l2": [0.01, 0.1, 1.0, 10.0],
        "popularity_discount": [0.0, 0.2],
    }

    @dataclass
    class Params:
        l2: float = 1.0
        """λ, relative to the kernel's mean diagonal."""
        min_rating: int = 7
        """Ratings from this value up are positives."""
        graded: bool = True
        """Positives weighted ``rating - min_rating + 1`` (as in EASE)."""
        min_item_raters: int = 3
        """Model only anime with this many positive training raters."""
        popularity_discount: float = 0.0
        """β: scores divided by ``(training raters + 1)^β``."""
        dislike_weight: float = 0.0
        """Input weight of a rating ≤ ``dislike_max``, in units of a 10's weight (0: ignored)."""
        dislike_max: int = DISLIKE_MAX
        """Ratings at or below this are dislikes."""

    def __init__(self, params: Params | None = None) -> None:
        self.params = params or self.Params()
        self.space: ItemSpace | None = None
        self.U: sp.csr_matrix | None = None
        """Training users × items, their weighted positives."""
        self.alpha: np.ndarray | None = None
        """``float32 [users, items]``: ``(K + λI)⁻¹ U``."""
        self.item_weight: np.ndarray | None = None

    def fit(self, train: Ratings, catalog: Catalog) -> Self:
        p = self.params
        space = ItemSpace.rated(
            train, catalog, min_rating=p.min_rating, min_count=p.min_item_raters
        )
        U = weighted(space.train_matrix(train), p.min_rating, p.graded)
        U = U[np.diff(U.indptr) > 0].astype(np.float64)  # users with no positive add nothing
        norms = np.sqrt(np.asarray(U.multiply(U).sum(axis=1)).ravel())
        K = relu_ntk((U @ U.T).toarray(), norms, norms)
        K[np.diag_indices_from(K)] += p.l2 * float(np.mean(np.diag(K)))
        alpha = spd_inverse(K) @ U.toarray()
        cols = space.columns(train.anime_id, catalog)
        raters = np.bincount(cols[cols >= 0], minlength=len(space))
        self.item_weight = ((raters + 1.0) ** -p.popularity_discount).astype(np.float32)
        self.space, self.U, self.catalog = space, U.astype(np.float32).tocsr(), catalog
        self.alpha = alpha.astype(np.float32)
        return self

    def score(self, histories: Sequence[History]) -> np.ndarray:
        self.fitted_catalog()
        p = self.params
        x = signed_inputs(
            self.space,
            histories,
            min_rating=p.min_rating,
            graded=p.graded,
            dislike_weight=p.dislike_weight,
            dislike_max=p.dislike_max,
        ).astype(np.float64)
        norm_x = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
        norm_u = np.sqrt(np.asarray(self.U.multiply(self.U).sum(axis=1)).ravel())
        k = relu_ntk((x @ self.U.T.astype(np.float64)).toarray(), norm_x, norm_u)
        sub = (k.astype(np.float32) @ self.alpha) * self.item_weight
        return self.space.scatter(sub)

    def state(self) -> dict[str, np.ndarray]:
        return {
            "item_ids": self.space.item_ids,
            "indptr": self.U.indptr,
            "indices": self.U.indices,
            "data": self.U.data,
            "alpha": self.alpha,
            "item_weight": self.item_weight,
        }

    def set_state(self, arrays: dict[str, np.ndarray], catalog: Catalog) -> None:
        self.space = ItemSpace.restore(catalog, arrays["item_ids"])
        shape = (len(arrays["indptr"]) - 1, len(self.space))
        self.U = sp.csr_matrix((arrays["data"], arrays["indices"], arrays["indptr"]), shape=shape)
        self.alpha = arrays["alpha"].astype(np.float32, copy=False)
        self.item_weight = arrays["item_weight"].astype(np.float32, copy=False)
        self.catalog = catalog
