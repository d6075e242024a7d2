"""What the models of one run share: the workspace and a pool of fitted models.

A :class:`Context` is handed to a model's constructor (never set on it from outside): content
models read their embedding cache from its workspace, and a hybrid takes its members from its
:class:`FitPool` when the evaluation already fitted them.
"""

from __future__ import annotations

import json
from dataclasses import asdict, is_dataclass

from animerec.data.catalog import Catalog
from animerec.data.ratings import Ratings
from animerec.recommend.base import Recommender
from animerec.workspace import Workspace

__all__ = ["FitPool"]


class FitPool:
    """Fitted recommenders shared within one run: a model with the same name and parameters,
    fitted on the very same ratings and catalog objects, is fitted once.

    The evaluation fits EASE and the content model for their own rows, then the hybrid fits the
    same two as members on the same training users; with a pool it takes them instead (each fit
    is deterministic, so the result is the same, at none of the cost)."""

    def __init__(self) -> None:
        self._fits: list[tuple[Ratings, Catalog, str, Recommender]] = []

    @staticmethod
    def key(model: Recommender) -> str | None:
        """What identifies a fit besides its data (None: never shared — injected vectors)."""
        if getattr(model, "_given_vectors", None) is not None:
            return None
        params = getattr(model, "params", None)
        if params is None or not is_dataclass(params):
            return None
        fields = asdict(params)
        where = fields.pop("workspace", None)  # as the model resolves it: its parameter first
        ws = getattr(model, "workspace", None)
        if where is None and isinstance(ws, Workspace):
            where = str(ws.root)
        return json.dumps(
            {"model": model.name, "params": fields, "workspace": where},
            sort_keys=True,
            default=str,
        )

    def get(self, model: Recommender, train: Ratings, catalog: Catalog) -> Recommender | None:
        key = self.key(model)
        if key is None:
            return None
        for t, c, k, fitted in self._fits:
            if t is train and c is catalog and k == key:
                return fitted
        return None

    def add(self, model: Recommender, train: Ratings, catalog: Catalog) -> None:
        """Remember ``model``, already fitted on ``train`` and ``catalog``."""
        key = self.key(model)
        if key is not None and self.get(model, train, catalog) is None:
            self._fits.append((train, catalog, key, model))

    def fit(self, model: Recommender, train: Ratings, catalog: Catalog) -> Recommender:
        """The pooled fit equal to ``model`` fitted on ``train``, or ``model`` fitted now."""
        hit = self.get(model, train, catalog)
        if hit is not None:
            return hit
        model.fit(train, catalog)
        self.add(model, train, catalog)
        return model
