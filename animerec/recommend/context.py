"""What the models of one run share: the workspace, a pool of fitted models, and whether cached
learning is redone.

A :class:`Context` is handed to a model's constructor (never set on it from outside): content
models read their embedding cache from its workspace, and a hybrid takes its members from its
:class:`FitPool` when the evaluation already fitted them.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from animerec.data.catalog import Catalog
from animerec.data.ratings import Ratings
from animerec.workspace import Workspace

if TYPE_CHECKING:  # the base class imports this module; no import back at run time
    from animerec.recommend.base import Recommender

__all__ = ["Context", "FitPool"]


class FitPool:
    """Fitted recommenders shared within one run: a model with the same name, parameters and
    inputs, fitted on the very same ratings and catalog objects, is fitted once.

    The evaluation fits EASE and the content model for their own rows, then the hybrid fits the
    same two as members on the same training users; with a pool it takes them instead (each fit
    is deterministic, so the result is the same, at none of the cost)."""

    def __init__(self) -> None:
        self._fits: list[tuple[Ratings, Catalog, str, Recommender]] = []

    @staticmethod
    def key(model: Recommender) -> str:
        """What identifies a fit besides its data: the model, its parameters and its inputs
        (:meth:`~animerec.recommend.base.Recommender.input_identity`: the embedder or the
        given vectors a content model reads)."""
        return json.dumps(
            {"model": model.name, "params": asdict(model.params), "inputs": model.input_identity()},
            sort_keys=True,
            default=str,
        )

    def get(self, model: Recommender, train: Ratings, catalog: Catalog) -> Recommender | None:
        key = self.key(model)
        for t, c, k, fitted in self._fits:
            if t is train and c is catalog and k == key:
                return fitted
        return None

    def add(self, model: Recommender, train: Ratings, catalog: Catalog) -> None:
        """Remember ``model``, already fitted on ``train`` and ``catalog``."""
        if self.get(model, train, catalog) is None:
            self._fits.append((train, catalog, self.key(model), model))

    def fit(self, model: Recommender, train: Ratings, catalog: Catalog) -> Recommender:
        """The pooled fit equal to ``model`` fitted on ``train``, or ``model`` fitted now."""
        hit = self.get(model, train, catalog)
        if hit is not None:
            return hit
        model.fit(train, catalog)
        self.add(model, train, catalog)
        return model


@dataclass(frozen=True)
class Context:
    """Where a model runs, given to its constructor: not a hyper-parameter (it changes no
    result), so it is neither saved with the model nor part of any cache key."""

    workspace: Workspace | None = None
    """Holds the embedding cache and the tuning caches (None: the default workspace for
    embeddings, no caching of learned fusions)."""
    pool: FitPool | None = None
    """Models fitted earlier in this run, for a hybrid's members."""
    retune: bool = False
    """Learn cached choices again (a hybrid's fusion) instead of reading them."""
