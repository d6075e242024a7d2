"""ALS: deterministic for a seed, folds new users in by the ALS least squares, beats popularity."""

from __future__ import annotations

import numpy as np
from clusters import two_clusters

from animerec.data.ratings import History
from animerec.recommend.als import ALS
from animerec.recommend.filters import Filters

SMALL = {"factors": 4, "regularization": 0.1, "iterations": 10}


def fit(**kw) -> ALS:
    c = two_clusters()
    return ALS(ALS.Params(**{**SMALL, **kw})).fit(c.train, c.catalog)


def test_same_seed_same_model_whatever_the_threads():
    a, b, c = fit(seed=7), fit(seed=7), fit(seed=7, threads=2)
    np.testing.assert_array_equal(a.item_factors, b.item_factors)
    np.testing.assert_array_equal(a.item_factors, c.item_factors)
    assert not np.allclose(a.item_factors, fit(seed=8).item_factors)


def test_fold_in_solves_the_als_normal_equations():
    model = fit(alpha=2.0, min_rating=7, graded=True)
    h = History.of([1, 2, 12, 13], [10, 7, 3, 8])  # the 3 is not a positive
    x = model.user_factors([h])[0]
    Y = model.item_factors.astype(np.float64)
    cols = model.space.columns(np.array([1, 2, 13]), model.catalog)
    conf = 1 + 2.0 * np.array([10 - 6, 7 - 6, 8 - 6])  # 1 + alpha·(rating - min_rating + 1)
    Yo = Y[cols]
    A = Y.T @ Y + Yo.T @ np.diag(conf - 1) @ Yo + 0.1 * np.eye(Y.shape[1])
    b = Yo.T @ conf
    np.testing.assert_allclose(x, np.linalg.solve(A, b), rtol=1e-3, atol=1e-4)
    s = model.score([h])[0]
    np.testing.assert_allclose(s[model.space.positions], Y @ x, rtol=1e-3, atol=1e-4)


def test_reason_credits_the_most_similar_liked_title():
    model = fit()
    adult = Filters(include_adult=True)  # the clusters' A5 is an adult title
    recs = model.recommend([History.of([1, 2], [10, 9])], k=3, filters=adult)[0]
    assert {r.anime_id for r in recs} == {3, 4, 5}
    for r in recs:
        assert r.reason in ("because you liked A1", "because you liked A2")


def test_real_sample_beats_popularity(sample_split, sample_catalog, ndcg_at_10, popularity_ndcg):
    model = ALS(ALS.Params(factors=64, regularization=10.0, threads=2))
    model.fit(sample_split.train, sample_catalog)
    ndcg = ndcg_at_10(model)
    assert ndcg >= popularity_ndcg + 0.12, (ndcg, popularity_ndcg)
