"""Recommenders behind one contract (:class:`Recommender`), and the registry that names them."""

from animerec.recommend.als import ALS
from animerec.recommend.base import NotFittedError, Recommendation, Recommender, mask_seen, top_k
from animerec.recommend.content import ContentRecommender
from animerec.recommend.context import Context, FitPool
from animerec.recommend.ease import EASE
from animerec.recommend.hybrid import HybridRecommender
from animerec.recommend.itemknn import ItemKNN
from animerec.recommend.popularity import Popularity
from animerec.recommend.registry import (
    RECOMMENDERS,
    ModelSpec,
    UnknownModelError,
    load_recommender,
    make_recommender,
    recommender_class,
    resolve,
)
from animerec.recommend.spread import Spread, new_exposure, spread
from animerec.recommend.userknn import UserKNN

__all__ = [
    "ALS",
    "EASE",
    "ContentRecommender",
    "Context",
    "FitPool",
    "HybridRecommender",
    "RECOMMENDERS",
    "ItemKNN",
    "ModelSpec",
    "NotFittedError",
    "Popularity",
    "Recommendation",
    "Recommender",
    "Spread",
    "UnknownModelError",
    "UserKNN",
    "load_recommender",
    "make_recommender",
    "mask_seen",
    "new_exposure",
    "recommender_class",
    "resolve",
    "spread",
    "top_k",
]
