"""Recommenders by name: the names the CLI, the evaluation and the API accept."""

from __future__ import annotations

import json
import os
from dataclasses import fields
from pathlib import Path
from typing import Any

from animerec.data.catalog import Catalog
from animerec.errors import AnimerecError
from animerec.recommend.als import ALS
from animerec.recommend.base import Recommender
from animerec.recommend.content import ContentRecommender
from animerec.recommend.ease import EASE
from animerec.recommend.hybrid import HybridRecommender
from animerec.recommend.infae import InfiniteAE
from animerec.recommend.itemknn import ItemKNN
from animerec.recommend.popularity import Popularity
from animerec.recommend.textease import CEASE, L3AE, AddEASE
from animerec.recommend.userknn import UserKNN

RECOMMENDERS: dict[str, type[Recommender]] = {
    cls.name: cls
    for cls in (Popularity, ItemKNN, UserKNN, EASE, ALS, ContentRecommender, HybridRecommender)
    + (L3AE, CEASE, AddEASE, InfiniteAE)  # the EASE family of issue 13 (benchmarks/ease_study.py)
}
"""Every registered recommender class by its ``name`` (content and hybrid register here too)."""


def recommender_class(name: str) -> type[Recommender]:
    try:
        return RECOMMENDERS[name]
    except KeyError:
        raise AnimerecError(
            f"unknown recommender {name!r}; known: {', '.join(sorted(RECOMMENDERS))}"
        ) from None


def make_recommender(name: str, **params: Any) -> Recommender:
    """An unfitted recommender ``name`` with ``params`` over its defaults (unknown ones refused)."""
    cls = recommender_class(name)
    params_cls = getattr(cls, "Params", None)
    if params_cls is None:
        if params:
            raise AnimerecError(f"recommender {name!r} takes no parameters, got {sorted(params)}")
        return cls()
    allowed = {f.name for f in fields(params_cls)}
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise AnimerecError(
            f"recommender {name!r} has no parameter {', '.join(unknown)}; "
            f"it has: {', '.join(sorted(allowed))}"
        )
    return cls(params_cls(**params))


def load_recommender(path: str | os.PathLike[str], catalog: Catalog) -> Recommender:
    """A fitted recommender saved with :meth:`Recommender.save`, whichever model it is."""
    path = Path(path)
    meta_path = path / "params.json"
    try:
        meta = json.loads(meta_path.read_text())
        name = meta["model"]
    except FileNotFoundError:
        raise AnimerecError(f"{meta_path} is missing: {path} is not a saved recommender") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise AnimerecError(f"{meta_path} is not a recommender's params.json ({exc})") from None
    if not (path / "state.npz").exists():
        raise AnimerecError(
            f"{path / 'state.npz'} is missing: the saved {name} model is incomplete"
        )
    return recommender_class(name).load(path, catalog)
