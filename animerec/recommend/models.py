"""The single recommenders by name: every registered model that fits no other model.

Apart from :mod:`animerec.recommend.registry` so that a hybrid can build its members by name
without importing the registry that registers the hybrid itself (no import circle).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from animerec.errors import AnimerecError
from animerec.recommend.als import ALS
from animerec.recommend.base import Recommender
from animerec.recommend.content import ContentRecommender
from animerec.recommend.ease import EASE
from animerec.recommend.infae import InfiniteAE
from animerec.recommend.itemknn import ItemKNN
from animerec.recommend.popularity import Popularity
from animerec.recommend.textease import CEASE, L3AE, AddEASE
from animerec.recommend.userknn import UserKNN

__all__ = ["SINGLE_MODELS", "UnknownModelError", "check_names", "lookup"]

SINGLE_MODELS: dict[str, type[Recommender]] = {
    cls.name: cls
    for cls in (Popularity, ItemKNN, UserKNN, EASE, ALS, ContentRecommender)
    + (L3AE, CEASE, AddEASE, InfiniteAE)  # the EASE family of issue 13 (benchmarks/ease_study.py)
}
"""Models a hybrid may fuse (by ``name``)."""


class UnknownModelError(AnimerecError):
    """A model name that no registry knows (raised by :func:`check_names` alone)."""


def check_names(names: Sequence[str], known: Mapping[str, type[Recommender]]) -> None:
    """Raise :class:`UnknownModelError` naming every one of ``names`` that ``known`` lacks,
    and the known ones: the one check of model names (CLI, evaluation, API, hybrid members)."""
    bad = [n for n in names if n not in known]
    if bad:
        raise UnknownModelError(
            f"unknown model {', '.join(repr(b) for b in bad)}; known: {', '.join(sorted(known))}"
        )


def lookup(name: str, known: Mapping[str, type[Recommender]]) -> type[Recommender]:
    """The class registered as ``name`` in ``known`` (:class:`UnknownModelError` if none)."""
    check_names([name], known)
    return known[name]
