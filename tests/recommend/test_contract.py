"""The Recommender contract (:mod:`contract`) run for every model, content and hybrid included."""

from __future__ import annotations

import numpy as np
from clusters import A_IDS, B_IDS
from contract import RecommenderContract

from animerec.recommend import make_recommender
from animerec.recommend.adaptive import AdaptiveRecommender
from animerec.recommend.content import ContentRecommender
from animerec.recommend.hybrid import HybridRecommender
from animerec.recommend.ranker import RankerRecommender

# Settings that suit 12 users and 11 anime (the defaults are sized for thousands).
SMALL = {
    "popularity": {},
    "itemknn": {"neighbours": 5},
    "userknn": {"neighbours": 3},
    "ease": {"l2": 1.0},
    "als": {"factors": 4, "regularization": 0.1, "iterations": 10},
}


class TestPopularity(RecommenderContract):
    personalises = False

    def make(self):
        return make_recommender("popularity", **SMALL["popularity"])


class TestItemKNN(RecommenderContract):
    def make(self):
        return make_recommender("itemknn", **SMALL["itemknn"])


class TestUserKNN(RecommenderContract):
    def make(self):
        return make_recommender("userknn", **SMALL["userknn"])


class TestEASE(RecommenderContract):
    def make(self):
        return make_recommender("ease", **SMALL["ease"])


class TestALS(RecommenderContract):
    def make(self):
        return make_recommender("als", **SMALL["als"])


def cluster_vectors() -> np.ndarray:
    """Unit text vectors: A titles near one axis, B titles near the other, the cold title apart."""
    angle = np.radians(
        [*(2 * i for i in range(len(A_IDS))), *(90 - 2 * i for i in range(len(B_IDS))), 225]
    )
    return np.stack([np.cos(angle), np.sin(angle)], axis=1).astype(np.float32)


class TestContent(RecommenderContract):
    scores_cold = True

    def make(self):
        return ContentRecommender(
            ContentRecommender.Params(neighbours=3), vectors=cluster_vectors()
        )


class TestHybrid(RecommenderContract):
    scores_cold = True  # standardised fusion gives what no member scores the row's lowest score

    def make(self):
        params = HybridRecommender.Params(
            members=("itemknn", "ease"),
            member_params={"itemknn": dict(SMALL["itemknn"]), "ease": dict(SMALL["ease"])},
            tune_members=False,
            priors=(),
            debias=(0.0,),
            min_validation_ratings=4,
        )
        return HybridRecommender(params)


class TestAdaptive(RecommenderContract):
    def make(self):
        params = AdaptiveRecommender.Params(
            members=("ease/short", "ease/long"),
            bounds=(2,),
            member_params={"ease/short": {"l2": 5.0}, "ease/long": dict(SMALL["ease"])},
        )
        return AdaptiveRecommender(params)


class TestRanker(RecommenderContract):
    def make(self):
        params = RankerRecommender.Params(
            members=("ease", "itemknn", "popularity"),
            depths=(20, 5, 5),
            member_params={"ease": dict(SMALL["ease"]), "itemknn": dict(SMALL["itemknn"])},
            protocols=(0, 1, 3),
            min_validation_ratings=4,
            rounds=10,
            min_data_in_leaf=1000,  # 76 rows: no split, so it ranks as EASE (plumbing only)
            num_threads=1,
        )
        return RankerRecommender(params)
