"""Recommenders behind one contract (:class:`Recommender`), and the registry that names them."""

from animerec.recommend.als import ALS
from animerec.recommend.base import NotFittedError, Recommendation, Recommender
from animerec.recommend.content import ContentRecommender
from animerec.recommend.context import Context, FitPool
from animerec.recommend.ease import EASE
from animerec.recommend.filters import FilterError, Filters
from animerec.recommend.hybrid import HybridRecommender
from animerec.recommend.itemknn import ItemKNN
from animerec.recommend.pipeline import Fallback, Ranked, RankOptions, mask_seen, rank_batch, select
from animerec.recommend.popularity import Popularity
from animerec.recommend.ranking import rank, top_k
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
    "Fallback",
    "FilterError",
    "Filters",
    "FitPool",
    "HybridRecommender",
    "RECOMMENDERS",
    "ItemKNN",
    "ModelSpec",
    "NotFittedError",
    "Popularity",
    "RankOptions",
    "Ranked",
    "Recommendation",
    "Recommender",
    "Spread",
    "UnknownModelError",
    "UserKNN",
    "load_recommender",
    "make_recommender",
    "mask_seen",
    "new_exposure",
    "rank",
    "rank_batch",
    "recommender_class",
    "resolve",
    "select",
    "spread",
    "top_k",
]
