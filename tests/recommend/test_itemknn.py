"""Item-kNN: the Jaccard table by hand, the candidate-side neighbourhood, and the real sample."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from animerec.data.catalog import Catalog
from animerec.data.ratings import History, Ratings
from animerec.recommend.itemknn import ItemKNN, jaccard_neighbours

# users × items (x, y, z): x = {u1, u2}, y = {u3, u4}, z = {u1, u2, u3}
PROMOTERS = sp.csr_matrix(np.array([[1, 0, 1], [1, 0, 1], [0, 1, 1], [0, 1, 0]], np.float32))
J_XZ, J_YZ = 2 / 3, 1 / 4  # |x∩z| / |x∪z| = 2/3, |y∩z| / |y∪z| = 1/4; x and y share nobody


def test_jaccard_table_by_hand():
    full = jaccard_neighbours(PROMOTERS, k=2).toarray()
    expected = np.array([[0, 0, J_XZ], [0, 0, J_YZ], [J_XZ, J_YZ, 0]], np.float32)
    np.testing.assert_allclose(full, expected, rtol=1e-6)
    top1 = jaccard_neighbours(PROMOTERS, k=1).toarray()
    np.testing.assert_allclose(top1, [[0, 0, J_XZ], [0, 0, J_YZ], [J_XZ, 0, 0]], rtol=1e-6)


@pytest.fixture()
def xyz():
    catalog = Catalog(pd.DataFrame({"anime_id": [10, 20, 30], "name": ["X", "Y", "Z"]}))
    users, items = np.nonzero(PROMOTERS.toarray())
    train = Ratings.from_arrays(users, np.array([10, 20, 30])[items], np.full(len(users), 9))
    return catalog, train


def test_a_candidate_is_scored_only_by_its_own_neighbours(xyz):
    catalog, train = xyz
    model = ItemKNN(ItemKNN.Params(neighbours=1)).fit(train, catalog)
    fan_of_x = model.score([History.of([10], [10])])[0]
    np.testing.assert_allclose(
        fan_of_x, [0, 0, J_XZ], rtol=1e-6, atol=2e-6
    )  # x is z's nearest anime
    fan_of_y = model.score([History.of([20], [10])])[0]
    np.testing.assert_allclose(fan_of_y, [0, 0, 0], atol=2e-6)  # y is nobody's nearest anime
    wide = ItemKNN(ItemKNN.Params(neighbours=2)).fit(train, catalog)
    both = wide.score([History.of([10, 20], [10, 9])])[0]
    np.testing.assert_allclose(both, [0, 0, J_XZ + J_YZ], rtol=1e-6, atol=2e-6)  # summed similarity


def test_history_ratings_under_min_rating_do_not_count(xyz):
    catalog, train = xyz
    model = ItemKNN(ItemKNN.Params(neighbours=2)).fit(train, catalog)
    np.testing.assert_allclose(model.score([History.of([10], [8])])[0], [0, 0, 0], atol=2e-6)
    loose = ItemKNN(ItemKNN.Params(neighbours=2, min_rating=8)).fit(train, catalog)
    assert loose.score([History.of([10], [8])])[0][2] == pytest.approx(J_XZ, abs=2e-6)


def test_a_history_without_promotions_gets_the_most_promoted_anime_first(xyz):
    catalog, train = xyz
    model = ItemKNN(ItemKNN.Params(neighbours=2)).fit(train, catalog)
    recs = model.recommend([History.of([10], [6])], k=2)[0]
    assert [r.anime_id for r in recs] == [30, 20]  # z has 3 promoters, y 2 (x was seen)
    assert max(r.score for r in recs) <= 1e-6  # a tie-break, not a signal


def test_reason_names_the_history_item_that_contributed_most(xyz):
    catalog, train = xyz
    model = ItemKNN(ItemKNN.Params(neighbours=2)).fit(train, catalog)
    (rec,) = model.recommend([History.of([10, 20], [10, 10])], k=1)[0]
    assert rec.anime_id == 30
    assert rec.reason == "because you liked X"


def test_real_sample_beats_popularity(sample_split, sample_catalog, ndcg_at_10, popularity_ndcg):
    model = ItemKNN().fit(sample_split.train, sample_catalog)
    ndcg = ndcg_at_10(model)
    assert ndcg >= popularity_ndcg + 0.10, (ndcg, popularity_ndcg)
    rec = model.recommend([History.of([19], [10])], k=1)[0][0]  # a Monster fan
    assert rec.reason == "because you liked Monster"


def test_a_dislike_pushes_down_its_neighbours_by_hand(xyz):
    """Like y, and rate x a 2 (disliked) or a 6 (neutral): z, x's nearest anime, loses
    0.5 × J(x, z) with dislike_weight -0.5, and nothing else moves."""
    catalog, train = xyz
    model = ItemKNN(ItemKNN.Params(neighbours=2, dislike_weight=-0.5)).fit(train, catalog)
    neutral, disliked = model.score([History.of([20, 10], [10, 6]), History.of([20, 10], [10, 2])])
    np.testing.assert_allclose(neutral, [0, 0, J_YZ], atol=2e-6)
    np.testing.assert_allclose(disliked, [0, 0, J_YZ - 0.5 * J_XZ], atol=2e-6)
    plain = ItemKNN(ItemKNN.Params(neighbours=2)).fit(train, catalog)
    np.testing.assert_allclose(plain.score([History.of([20, 10], [10, 2])])[0], neutral, atol=0)
    recs = model.recommend([History.of([20, 10], [10, 2])], k=1)[0]
    assert "X" not in recs[0].reason  # a disliked title is never the reason
