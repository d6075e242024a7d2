"""The one recommender contract: fit on ratings, then score and rank for a batch of histories.

Every model scores over the whole catalog (positions of ``Catalog.anime_ids``), so models can be
fused, filtered and re-ranked the same way. A subclass implements :meth:`fit` and :meth:`score`
and, where it can say more than the default, :meth:`reasons`.
"""

from __future__ import annotations

import json
import os
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self

import numpy as np

from animerec.data.catalog import Catalog
from animerec.data.ratings import History, Ratings
from animerec.recommend.context import Context
from animerec.workspace import atomic_path

if TYPE_CHECKING:
    from animerec.recommend.spread import Spread


@dataclass(frozen=True)
class Recommendation:
    anime_id: int
    score: float
    reason: str


class NotFittedError(RuntimeError):
    pass


@dataclass(frozen=True)
class NoParams:
    """The parameters of a model that has none."""


class Recommender(ABC):
    """Base class of every recommender.

    Subclasses keep their hyper-parameters in a dataclass ``params`` (saved with the model) and
    their fitted state as numpy arrays returned by :meth:`state` (saved as ``.npz``, never pickle).
    """

    name: ClassVar[str]
    catalog: Catalog | None = None

    # --- what a model declares (read by the registry, tuning and the caches) ----------------------
    Params: ClassVar[type] = NoParams
    """The dataclass of the model's hyper-parameters (saved with it, part of every cache key)."""
    params: Any = NoParams()
    search_space: ClassVar[Mapping[str, list]] = {}
    """Values the grid search (:mod:`animerec.evaluate.tune`) tries per parameter ({}: none)."""
    context: Context = Context()
    """Where the model runs (workspace, fit pool); given to :meth:`build`, never a parameter."""

    @classmethod
    def build(cls, params: Mapping[str, Any] | None = None, context: Context | None = None) -> Self:
        """An unfitted model with ``params`` over its defaults, run in ``context``. Models that
        read the workspace or fit other models (content, hybrid) keep the context."""
        return cls(cls.Params(**dict(params or {})))

    @classmethod
    def members_of(cls, params: Mapping[str, Any]) -> dict[str, tuple[str, dict[str, Any], bool]]:
        """The models this one fits as members, ``{member: (registered model, its fixed
        parameters, whether tuned values fill in the rest)}`` for these ``params`` ({}: none;
        the hybrid has some). The registry resolves each (tuned values, ``auto``) and hands
        the results back as ``params["member_params"]``."""
        return {}

    def input_identity(self) -> dict[str, Any]:
        """What the fit reads besides ratings and parameters, resolved (a content model: its
        embedder and that embedder's weights), so caches keyed on it notice a change; {} for
        a model that reads nothing else."""
        return {}

    # --- what subclasses implement ----------------------------------------------------------------
    @abstractmethod
    def fit(self, train: Ratings, catalog: Catalog) -> Self:
        """Learn from the training users' ratings; ``catalog`` fixes the item space."""

    @abstractmethod
    def score(self, histories: Sequence[History]) -> np.ndarray:
        """Scores ``float32 [len(histories), len(catalog)]``; ``-inf`` where an item can't be scored."""

    def reasons(self, history: History, anime_ids: np.ndarray, scores: np.ndarray) -> list[str]:
        """A sentence per recommended item saying why; models override with what they know."""
        return [f"scored {s:.3f} by {self.name}" for s in scores]

    def state(self) -> dict[str, np.ndarray]:
        """Fitted arrays to save; restored by :meth:`set_state`."""
        return {}

    def set_state(self, arrays: dict[str, np.ndarray], catalog: Catalog) -> None:
        self.catalog = catalog

    def item_vectors(self) -> np.ndarray | None:
        """Unit item vectors over the catalog for exploration's diversity (None: genre vectors)."""
        return None

    # --- shared behaviour ---------------------------------------------------------------------------
    def _require_fitted(self) -> Catalog:
        if self.catalog is None:
            raise NotFittedError(f"{self.name}: call fit() before recommend()")
        return self.catalog

    def recommend(
        self,
        histories: Sequence[History],
        k: int = 10,
        *,
        exclude_seen: bool = True,
        explore: float = 0.0,
        candidates: np.ndarray | None = None,
        spread: Spread | None = None,
        exposure: np.ndarray | None = None,
    ) -> list[list[Recommendation]]:
        """Top-``k`` recommendations per history, best first.

        ``exclude_seen`` drops what each history already holds; ``explore`` in [0, 1] re-ranks toward
        diverse, less popular titles (0 = pure exploitation); ``candidates`` (a boolean mask over
        the catalog) restricts what may be recommended; ``spread`` re-ranks the last slots over
        the whole batch so that it reaches more of the catalog (:mod:`animerec.recommend.spread`;
        ``exposure`` carries its counts across the blocks of a larger batch).
        """
        if not 0.0 <= explore <= 1.0:
            raise ValueError(f"explore must be in [0, 1], got {explore}")
        if spread is not None and explore > 0:
            raise ValueError(
                "choose explore (within each list) or spread (over the batch), not both"
            )
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        catalog = self._require_fitted()
        scores = np.asarray(self.score(histories), dtype=np.float32)
        if exclude_seen:
            mask_seen(scores, histories, catalog)
        if candidates is not None:
            scores[:, ~candidates] = -np.inf
        if explore > 0:
            from animerec.recommend.explore import explored_reasons, rerank

            top = rerank(scores, k, explore=explore, catalog=catalog, vectors=self.item_vectors())
            plain = top_k(scores, k)
        elif spread is not None:
            top = spread_top(scores, k, spread, exposure)
        else:
            top = top_k(scores, k)
        out = []
        for i, h in enumerate(histories):
            idx = top[i]
            idx = idx[idx >= 0]
            idx = idx[np.isfinite(scores[i, idx])]
            ids = catalog.anime_ids[idx]
            s = scores[i, idx]
            why = self.reasons(h, ids, s) if len(ids) else []
            if explore > 0 and len(ids):
                why = explored_reasons(h, idx, plain[i], why, catalog)
            out.append(
                [Recommendation(int(a), float(v), r) for a, v, r in zip(ids, s, why, strict=True)]
            )
        return out

    # --- persistence --------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write ``params.json`` and ``state.npz`` into the directory ``path`` (atomically)."""
        meta = {"model": self.name, "params": asdict(self.params)}
        with atomic_path(path) as tmp:
            tmp.mkdir()
            (tmp / "params.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
            np.savez(tmp / "state.npz", **self.state())

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], catalog: Catalog, context: Context | None = None
    ) -> Self:
        path = Path(path)
        meta = json.loads((path / "params.json").read_text())
        if meta["model"] != cls.name:
            raise ValueError(f"{path} holds a {meta['model']!r} model, not {cls.name!r}")
        model = cls.from_params(meta["params"], context)
        with np.load(path / "state.npz", allow_pickle=False) as z:
            model.set_state({k: z[k] for k in z.files}, catalog)
        return model

    @classmethod
    def from_params(cls, params: Mapping[str, Any], context: Context | None = None) -> Self:
        """Rebuild an unfitted model from saved parameters (unknown keys, such as the
        ``workspace`` older saves hold, are ignored)."""
        known = {f.name for f in fields(cls.Params)}
        return cls.build({k: v for k, v in params.items() if k in known}, context)


def mask_seen(scores: np.ndarray, histories: Sequence[History], catalog: Catalog) -> None:
    """Set the score of every item a history already holds to ``-inf`` (in place)."""
    for i, h in enumerate(histories):
        pos = catalog.positions(h.anime_ids)
        scores[i, pos[pos >= 0]] = -np.inf


def spread_top(
    scores: np.ndarray, k: int, settings: Spread, exposure: np.ndarray | None = None
) -> np.ndarray:
    """Top-``k`` positions per row after spreading the batch (``-1`` where a row has fewer
    than ``k`` finite scores)."""
    from animerec.recommend.spread import spread

    ranked = top_k(scores, settings.depth(k))
    ranked = np.where(np.isfinite(np.take_along_axis(scores, ranked, axis=1)), ranked, -1)
    return spread(ranked, k, settings, scores.shape[1], exposure)


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` best scores per row, best first (ties broken by catalog position)."""
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    part_scores = np.take_along_axis(scores, part, axis=1)
    # argpartition picks arbitrarily among items tied with the k-th best score: redo those rows
    kth = part_scores.min(axis=1)
    tied = np.flatnonzero((scores >= kth[:, None]).sum(axis=1) > k)
    for i in tied:
        idx = np.flatnonzero(scores[i] >= kth[i])  # ascending catalog position
        part[i] = idx[np.argsort(-scores[i, idx], kind="stable")[:k]]
        part_scores[i] = scores[i, part[i]]
    order = np.lexsort((part, -part_scores), axis=1)
    return np.take_along_axis(part, order, axis=1)
