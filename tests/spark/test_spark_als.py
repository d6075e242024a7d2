"""Spark MLlib ALS on the sample: fitted on the training users, served by numpy fold-in."""

from __future__ import annotations

import numpy as np
import pytest

from animerec.data.catalog import Catalog
from animerec.data.ratings import History, Ratings, histories_from_ratings
from animerec.data.split import protocol_split
from animerec.recommend.als import ALS
from animerec.recommend.itemspace import ItemSpace
from animerec.recommend.popularity import Popularity
from animerec.spark.als import SparkALS, SparkALSParams, fit_factors
from animerec.workspace import Workspace

PARAMS = SparkALSParams(factors=32, iterations=6, regularization=0.05, alpha=1.0, seed=3)


def hit_rate(model, histories: list[History], users: np.ndarray, heldout: Ratings) -> float:
    """HR@10: share of test users with a held-out 9–10 among their top 10."""
    recs = model.recommend(histories, 10)
    hits = counted = 0
    for u, top in zip(users, recs, strict=True):
        liked = set(heldout.anime_id[(heldout.user_id == u) & (heldout.rating >= 9)].tolist())
        if liked:
            counted += 1
            hits += bool(liked & {r.anime_id for r in top})
    return hits / counted


@pytest.fixture(scope="module")
def fitted(spark, sample_workspace: Workspace, sample_ratings: Ratings, sample_catalog: Catalog):
    split = protocol_split(sample_ratings)
    ids, V, uids, U = fit_factors(
        spark, sample_workspace.ratings, PARAMS, users=split.train_users, with_users=True
    )
    model = SparkALS(PARAMS, spark=spark).use_factors(ids, V, sample_catalog)
    return split, model, (ids, V, uids, U)


def test_items_are_the_positively_rated_training_items(fitted, sample_catalog: Catalog) -> None:
    split, model, (ids, V, _, _) = fitted
    want = ItemSpace.rated(split.train, sample_catalog, min_rating=PARAMS.min_rating)
    np.testing.assert_array_equal(model.space.item_ids, want.item_ids)
    assert model.item_factors.shape == (len(want), PARAMS.factors)
    assert np.isfinite(model.item_factors).all()


def test_fold_in_solves_sparks_own_equations(fitted) -> None:
    """Spark's last step computes user factors from the final item factors, so folding a training
    user in from their history must give back Spark's own factors."""
    split, model, (_, _, uids, U) = fitted
    users, histories = histories_from_ratings(split.train)
    pick = np.arange(0, len(users), 25)
    mine = model.user_factors([histories[i] for i in pick])
    theirs = U[np.searchsorted(uids, users[pick])]
    np.testing.assert_allclose(mine, theirs, rtol=0, atol=2e-3 * np.abs(theirs).max())


def test_recommends_as_well_as_implicit(fitted, sample_catalog: Catalog, tmp_path) -> None:
    split, model, _ = fitted
    users, histories = histories_from_ratings(split.history)
    spark_hr = hit_rate(model, histories, users, split.heldout)
    implicit = ALS(ALS.Params(factors=32, iterations=6, regularization=10.0, seed=3))
    implicit_hr = hit_rate(
        implicit.fit(split.train, sample_catalog), histories, users, split.heldout
    )
    popular_hr = hit_rate(
        Popularity().fit(split.train, sample_catalog), histories, users, split.heldout
    )
    assert spark_hr >= 0.9 * implicit_hr, (spark_hr, implicit_hr)
    assert spark_hr > popular_hr, (spark_hr, popular_hr)
    # saved and loaded without Spark, it scores the same
    model.save(tmp_path / "m")
    again = SparkALS.load(tmp_path / "m", sample_catalog)
    np.testing.assert_allclose(again.score(histories[:5]), model.score(histories[:5]), rtol=1e-6)
