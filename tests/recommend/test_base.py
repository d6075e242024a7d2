"""Ranking primitives and the model declarations (the per-model contract is in test_contract)."""

from __future__ import annotations

import numpy as np
import pytest
from clusters import two_clusters

from animerec.data.ratings import History
from animerec.recommend import Recommender, make_recommender, mask_seen, top_k

# Settings that suit 12 users and 11 anime (the defaults are sized for thousands).
SMALL = {
    "popularity": {},
    "itemknn": {"neighbours": 5},
    "userknn": {"neighbours": 3},
    "ease": {"l2": 1.0},
    "als": {"factors": 4, "regularization": 0.1, "iterations": 10},
}
CF = ["itemknn", "userknn", "ease", "als"]
"""The models that personalise (popularity gives everyone the same list)."""

LIKES_A = History.of([1, 2], [10, 9])
LIKES_B = History.of([11, 12, 13], [10, 10, 9])


def fitted(name: str) -> Recommender:
    c = two_clusters()
    return make_recommender(name, **SMALL[name]).fit(c.train, c.catalog)


def test_top_k_orders_best_first_and_breaks_ties_by_position():
    s = np.array([[0.1, 0.5, 0.5, -np.inf, 0.9]], np.float32)
    assert top_k(s, 3).tolist() == [[4, 1, 2]]
    assert top_k(s, 10).shape == (1, 5)


def test_mask_seen_hides_history_and_ignores_unknown_ids(clusters):
    s = np.zeros((1, len(clusters.catalog)), np.float32)
    mask_seen(s, [History.of([2, 12, 12345])], clusters.catalog)
    assert np.isneginf(s[0, clusters.catalog.positions([2, 12])]).all()
    assert np.isfinite(s).sum() == len(clusters.catalog) - 2


def test_every_model_declares_params_and_a_search_space_of_its_params():
    from dataclasses import fields

    from animerec.recommend import RECOMMENDERS

    for name in SMALL:
        cls = RECOMMENDERS[name]
        names = {f.name for f in fields(cls.Params)}
        assert set(cls.search_space) <= names, name
        assert all(isinstance(v, list) and v for v in cls.search_space.values()), name
        assert cls.from_params({"nonsense": 1}).params == cls.Params()


@pytest.mark.parametrize("name", CF)
def test_training_without_a_single_positive_is_a_clear_error(name, clusters):
    from animerec.data.ratings import Ratings
    from animerec.errors import AnimerecError

    lukewarm = Ratings.from_arrays([1, 2], [1, 2], [3, 4])
    with pytest.raises(AnimerecError, match="nothing to learn from"):
        make_recommender(name).fit(lukewarm, clusters.catalog)
