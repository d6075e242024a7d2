"""EASE with item side information — text embeddings or genres — in three closed forms.

Let ``F`` be the items' side features (``[items, f]``: the unit description vectors of the
fine-tuned embedder, loaded as the content recommender loads them, or genre indicators) and
``S = FFᵀ`` their Gram matrix. The *side EASE* ``B_S = argmin ||Fᵀ - FᵀB||² + λ_s||B||²``,
``diag(B) = 0``, is EASE fitted with the features as "users" (:func:`constrained_ridge` on
``S``): which items a title's description predicts.

- :class:`L3AE` (Moon et al., CIKM 2025, "L3AE: linear autoencoders with LLM knowledge"):
  ``B = argmin ||X - XB||² + λ||B||² + μ||B - B_S||²`` with ``diag(B) = 0`` — EASE pulled toward
  the text prior. Setting the gradient to zero with a multiplier ``γ`` per diagonal entry,
  ``(G + λI + μI)B = G + μB_S - diagMat(γ)``, so with ``P = (G + (λ + μ)I)⁻¹`` and
  ``B̂ = P(G + μB_S)``: ``B = B̂ - P·diagMat(diag(B̂) / diag(P))``.
- :class:`CEASE` (Jeunen et al. 2020, collective EASE): the features stacked under ``X`` as
  ``w``-weighted extra users, ``[X; √w·Fᵀ]``, so ``G → G + w·S`` (the targets too).
- :class:`AddEASE` (Jeunen et al. 2020, additive EASE): ``B = (1 - w)·B_X + w·B_S``.

All three keep EASE's inputs, refinements, dislikes, scoring and persistence; only the item-item
matrix differs. CEASE and ADD-EASE are the ablations of L3AE's prior.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import numpy as np

from animerec.data.catalog import Catalog
from animerec.errors import AnimerecError
from animerec.recommend.content import ContentRecommender, text_vectors
from animerec.recommend.context import Context
from animerec.recommend.ease import EASE, constrained_ridge
from animerec.recommend.explore import genre_matrix
from animerec.recommend.itemspace import ItemSpace

__all__ = ["CEASE", "L3AE", "SIDES", "AddEASE", "SideEASE", "side_ease"]

SIDES = ("text", "genres")

_side_memo: dict[tuple[str, float], np.ndarray] = {}


def side_ease(F: np.ndarray, l2: float) -> np.ndarray:
    """``B_S``: the zero-diagonal ridge of the features on themselves (remembered for the last
    features and λ seen, so a grid over the other parameters solves it once)."""
    F = np.ascontiguousarray(F, dtype=np.float64)
    key = (hashlib.sha1(F.view(np.uint8), usedforsecurity=False).hexdigest(), float(l2))
    if key not in _side_memo:
        _side_memo.clear()
        _side_memo[key] = constrained_ridge(F @ F.T, l2)
    return _side_memo[key]


class SideEASE(EASE):
    """EASE whose item-item matrix also learns from item side features (see the module)."""

    name: ClassVar[str] = "side-ease"

    @dataclass
    class Params(EASE.Params):
        side: str = "text"
        """``text`` (description embeddings) or ``genres``."""
        side_l2: float = 1.0
        """λ_s of the side EASE ``B_S`` (unit text vectors: ``S``'s diagonal is 1)."""
        side_weight: float = 500.0
        """μ (L3AE), ``w`` (CEASE: weight of the feature rows) or the blend (ADD-EASE)."""
        embedder: str = "auto"
        """Text side: the embedder (``auto``: the fine-tuned ``anime-minilm`` when trained)."""
        variant: str = "clean"
        """Text side: the description variant."""

    def __init__(
        self,
        params: Params | None = None,
        *,
        vectors: np.ndarray | None = None,
        context: Context | None = None,
    ) -> None:
        """``vectors`` (one row per catalog anime) replace the embedding cache (tests); else
        the text comes from the cache of ``context``'s workspace, as for the content model."""
        super().__init__(params)
        self.context = context or Context()
        if self.params.side not in SIDES:
            raise AnimerecError(
                f"{self.name}: side must be one of {', '.join(SIDES)}, got {self.params.side!r}"
            )
        self.given_vectors = vectors
        self.vectors: np.ndarray | None = None
        """Unit text vectors over the catalog (text side only), for exploration's diversity."""

    @classmethod
    def build(cls, params: Mapping[str, Any] | None = None, context: Context | None = None) -> Self:
        return cls(cls.Params(**dict(params or {})), context=context)

    def features(self, catalog: Catalog) -> np.ndarray:
        """``[len(catalog), f]`` side features."""
        p = self.params
        if p.side == "genres":
            return genre_matrix(catalog)[1].astype(np.float32)
        v, _ = text_vectors(
            catalog,
            embedder=p.embedder,
            variant=p.variant,
            vectors=self.given_vectors,
            context=self.context,
        )
        self.vectors = v
        return v

    def input_identity(self) -> dict[str, str | None]:
        """What the side features come from (tuning caches key on it)."""
        p = self.params
        if p.side == "genres":
            return {"side": "genres"}
        cp = ContentRecommender.Params(embedder=p.embedder, variant=p.variant)
        content = ContentRecommender(cp, vectors=self.given_vectors, context=self.context)
        return content.input_identity()

    def side_prior(self, space: ItemSpace, catalog: Catalog) -> np.ndarray:
        """``B_S`` over the model's items."""
        return side_ease(self.features(catalog)[space.positions], self.params.side_l2)

    def item_vectors(self) -> np.ndarray | None:
        return self.vectors


class L3AE(SideEASE):
    """EASE regularised toward the text prior ``B_S`` (Moon et al. 2025)."""

    name: ClassVar[str] = "l3ae"
    search_space: ClassVar[dict[str, list]] = {
        "l2": [250.0, 1000.0, 5000.0],
        "side_weight": [100.0, 500.0, 2000.0],
    }

    def solve(
        self,
        G: np.ndarray,
        penalty: np.ndarray,
        C: np.ndarray | None,
        space: ItemSpace,
        catalog: Catalog,
    ) -> np.ndarray:
        mu = self.params.side_weight
        target = (G if C is None else C) + mu * self.side_prior(space, catalog)
        return constrained_ridge(G, penalty + mu, target)


class CEASE(SideEASE):
    """The side features as extra, ``side_weight``-weighted users (Jeunen et al. 2020)."""

    name: ClassVar[str] = "cease"
    search_space: ClassVar[dict[str, list]] = {
        "l2": [250.0, 1000.0, 5000.0],
        "side_weight": [10.0, 100.0, 1000.0],
    }

    @dataclass
    class Params(SideEASE.Params):
        side_weight: float = 100.0

    def solve(
        self,
        G: np.ndarray,
        penalty: np.ndarray,
        C: np.ndarray | None,
        space: ItemSpace,
        catalog: Catalog,
    ) -> np.ndarray:
        F = self.features(catalog)[space.positions].astype(np.float64)
        S = self.params.side_weight * (F @ F.T)
        return constrained_ridge(G + S, penalty, None if C is None else C + S)


class AddEASE(SideEASE):
    """``(1 - w)·EASE + w·side EASE`` (Jeunen et al. 2020)."""

    name: ClassVar[str] = "addease"
    search_space: ClassVar[dict[str, list]] = {
        "l2": [250.0, 1000.0, 5000.0],
        "side_weight": [0.05, 0.2, 0.5],
    }

    @dataclass
    class Params(SideEASE.Params):
        side_weight: float = 0.2

    def solve(
        self,
        G: np.ndarray,
        penalty: np.ndarray,
        C: np.ndarray | None,
        space: ItemSpace,
        catalog: Catalog,
    ) -> np.ndarray:
        w = self.params.side_weight
        if not 0.0 <= w <= 1.0:
            raise AnimerecError(f"addease: side_weight must be in [0, 1], got {w}")
        B = constrained_ridge(G, penalty, C)
        return (1.0 - w) * B + w * self.side_prior(space, catalog)
