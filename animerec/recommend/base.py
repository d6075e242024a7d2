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
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np

from animerec.data.catalog import Catalog
from animerec.data.ratings import History, Ratings
from animerec.recommend.context import Context
from animerec.recommend.dislikes import DislikeNeighbours
from animerec.recommend.explain import Recommendation, explain
from animerec.recommend.filters import Filters
from animerec.recommend.pipeline import Fallback, RankOptions, rank_batch
from animerec.recommend.spread import Spread
from animerec.recommend.state_files import read_state, write_state
from animerec.workspace import atomic_path

__all__ = ["NotFittedError", "Recommendation", "Recommender"]


class NotFittedError(RuntimeError):
    pass


@dataclass(frozen=True)
class NoParams:
    """The parameters of a model that has none."""


class Recommender(ABC):
    """Base class of every recommender.

    Subclasses keep their hyper-parameters in a dataclass ``params`` (saved with the model) and
    their fitted state as numpy arrays returned by :meth:`state` (saved as one ``.npy`` each,
    never pickle, and loaded memory-mapped read-only: :mod:`animerec.recommend.state_files`).
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
        return [f"recommended by {self.name}"] * len(scores)

    def state(self) -> dict[str, np.ndarray]:
        """Fitted arrays to save; restored by :meth:`set_state`."""
        return {}

    def set_state(self, arrays: dict[str, np.ndarray], catalog: Catalog) -> None:
        """Restore from :meth:`state`'s arrays. They may be read-only memory maps shared by every
        process serving the model: keep them (``astype(..., copy=False)``), never write into them."""
        self.catalog = catalog

    def item_vectors(self) -> np.ndarray | None:
        """Unit item vectors over the catalog for exploration's diversity (None: genre vectors)."""
        return None

    # --- shared behaviour ---------------------------------------------------------------------------
    def fitted_catalog(self) -> Catalog:
        """The catalog the model was fitted on (raises :class:`NotFittedError` before a fit)."""
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
        filters: Filters | None = None,
        fallback: Fallback | None = None,
        dislikes: DislikeNeighbours | None = None,
    ) -> list[list[Recommendation]]:
        """Top-``k`` recommendations per history, best first, with reasons — the ranking
        pipeline (:func:`animerec.recommend.pipeline.rank_batch`) followed by
        :func:`~animerec.recommend.explain.explain`.

        ``candidates`` (a boolean mask over the catalog) restricts what may be recommended, as
        ``filters.allow`` does by anime id; ``dislikes`` are the neighbours of the pipeline's dislike
        step (:mod:`animerec.recommend.dislikes`), applied at the served strength
        (``DISLIKE_STRENGTH``; 0, off, today).
        """
        f = filters or Filters()
        if not exclude_seen:
            f = replace(f, exclude_seen=False)
        if candidates is not None:
            ids = self.fitted_catalog().anime_ids[np.asarray(candidates, bool)]
            allowed = ids if f.allow is None else np.intersect1d(ids, f.allow)
            f = replace(f, allow=tuple(int(a) for a in allowed))
        options = RankOptions(k=k, filters=f, explore=explore, spread=spread)
        ranked = rank_batch(self, histories, options, fallback=fallback, dislikes=dislikes)
        return explain(self, histories, ranked, fallback)

    # --- persistence --------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write ``params.json`` and ``state/<array>.npy`` into the directory ``path`` (atomically)."""
        meta = {"model": self.name, "params": asdict(self.params)}
        with atomic_path(path) as tmp:
            tmp.mkdir()
            (tmp / "params.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
            write_state(tmp, self.state())

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], catalog: Catalog, context: Context | None = None
    ) -> Self:
        path = Path(path)
        meta = json.loads((path / "params.json").read_text())
        if meta["model"] != cls.name:
            raise ValueError(f"{path} holds a {meta['model']!r} model, not {cls.name!r}")
        model = cls.from_params(meta["params"], context)
        model.set_state(read_state(path), catalog)  # memory-mapped (an older state.npz: read)
        return model

    @classmethod
    def from_params(cls, params: Mapping[str, Any], context: Context | None = None) -> Self:
        """Rebuild an unfitted model from saved parameters (unknown keys, such as the
        ``workspace`` older saves hold, are ignored)."""
        known = {f.name for f in fields(cls.Params)}
        return cls.build({k: v for k, v in params.items() if k in known}, context)
