"""The learned ranker's parts: candidates and features, the booster's learning, its scores,
reasons and saved files (the contract itself runs in test_contract.py)."""

from __future__ import annotations

import numpy as np
import pytest
from clusters import A_IDS, two_clusters
from contract import LIKES_A
from test_contract import SMALL

from animerec.data.ratings import History
from animerec.errors import AnimerecError
from animerec.recommend import load_recommender
from animerec.recommend.ranker import RankerRecommender
from animerec.recommend.ranker.features import ItemSide, candidates, feature_names
from animerec.recommend.ranker.learn import Queries, check, lgb_params, query_ndcg, train_booster


def ranker(**over) -> RankerRecommender:
    params = dict(
        members=("ease", "itemknn", "popularity"),
        depths=(3, 2, 2),
        member_params={"ease": dict(SMALL["ease"]), "itemknn": dict(SMALL["itemknn"])},
        protocols=(0, 1, 3),
        min_validation_ratings=4,
        rounds=5,
        min_data_in_leaf=1000,
        num_threads=1,
    )
    return RankerRecommender(RankerRecommender.Params(**{**params, **over}))


def test_candidates_are_each_members_best_unseen_titles_named_by_the_first_that_proposes():
    c = two_clusters()
    vectors = np.eye(len(c.catalog), 3, dtype=np.float32)
    side = ItemSide.of(c.train, c.catalog, vectors)
    n = len(c.catalog)
    first = np.arange(n, dtype=np.float32)  # prefers the last positions
    second = -np.arange(n, dtype=np.float32)  # prefers the first positions
    h = History.of([1, 2], [10, 9])  # positions 0 and 1: seen, never candidates
    got = candidates(h, [first, second], (2, 3), side, c.catalog)
    assert sorted(got.positions.tolist()) == [2, 3, 4, n - 2, n - 1]
    assert dict(zip(got.positions.tolist(), got.proposer.tolist(), strict=True)) == {
        n - 1: 0, n - 2: 0, 2: 1, 3: 1, 4: 1
    }  # fmt: skip
    names = feature_names(["first", "second"], text=True)
    assert got.features.shape == (5, len(names))
    f = dict(zip(names, got.features[got.positions.tolist().index(4)], strict=True))
    assert f["n_likes"] == 2 and f["n_dislikes"] == 0 and f["n_proposers"] == 1
    assert f["second:rank"] == 2 and f["first:rank"] == 2  # 2, 3, 4 in order; n-1, n-2 first
    assert f["text_max"] == pytest.approx(0.0) and np.isnan(f["text_dislike_max"])
    assert f["franchise_liked"] == 0  # A1..A5 are distinct titles, not one franchise


def synthetic_queries(seed: int = 0) -> Queries:
    """Ten candidates per query; the relevant ones are flagged by feature 2, which the first
    member's rank (feature 0) ignores: a booster must learn to use feature 2."""
    rng = np.random.default_rng(seed)
    n_q, g = 200, 10
    x = rng.normal(size=(n_q * g, 3)).astype(np.float32)
    x[:, 0] = np.tile(np.arange(g), n_q)
    y = (x[:, 2] > 1.0).astype(np.int32)
    return Queries(
        x,
        y,
        np.full(n_q, g),
        np.tile([0, 3], n_q // 2),
        np.arange(n_q),
        np.bincount(np.repeat(np.arange(n_q), g), weights=y).astype(np.int64),
    )


def test_the_booster_learns_what_the_first_member_misses_and_the_check_says_so():
    q = synthetic_queries()
    params = lgb_params(ranker(min_data_in_leaf=5, rounds=20).params)
    booster = train_booster(q, params, 20, [])
    counted = q.n_relevant >= 1
    assert query_ndcg(q, booster.predict(q.features))[counted].mean() > 0.95
    assert query_ndcg(q, -q.features[:, 0])[counted].mean() < 0.6
    report = check(q, params, 20, [], base_column=0, seed=1)
    assert set(report) == {"holdout", "likes3"}
    for row in report.values():
        assert row["delta"] > 0.3 and row["delta_ci"][0] > 0
    again = train_booster(q, params, 20, [])  # seeded and deterministic
    assert again.model_to_string() == booster.model_to_string()


def test_titles_outside_the_candidates_follow_the_first_member_below_every_candidate():
    c = two_clusters()
    model = ranker().fit(c.train, c.catalog)
    s = model.score([LIKES_A])[0]
    cand = model._recent.rows[id(LIKES_A)][1]
    rest = np.setdiff1d(np.flatnonzero(np.isfinite(s)), cand)
    assert len(cand) and len(rest)
    assert s[rest].max() < s[cand].min()
    base = model.members[0].score([LIKES_A])[0]
    order = rest[np.argsort(-s[rest], kind="stable")]
    assert (np.diff(base[order]) <= 1e-6).all()


def test_reasons_are_the_proposing_members():
    c = two_clusters()
    model = ranker().fit(c.train, c.catalog)
    recs = model.recommend([LIKES_A], k=6)[0]
    _, positions, proposer = model._recent.rows[id(LIKES_A)]
    for r in recs:
        pos = int(c.catalog.positions([r.anime_id])[0])
        at = np.flatnonzero(positions == pos)
        m = model.members[int(proposer[at[0]]) if len(at) else 0]
        assert r.reason == m.reasons(LIKES_A, np.array([r.anime_id]), np.array([r.score]))[0]


def test_saved_ranker_holds_lightgbm_text_and_needs_it(tmp_path):
    c = two_clusters()
    model = ranker().fit(c.train, c.catalog)
    model.save(tmp_path / "m")
    text = (tmp_path / "m" / "booster.txt").read_text()
    assert text.startswith("tree")
    loaded = load_recommender(tmp_path / "m", c.catalog)
    np.testing.assert_allclose(loaded.score([LIKES_A]), model.score([LIKES_A]), rtol=1e-6)
    (tmp_path / "m" / "booster.txt").unlink()
    with pytest.raises(AnimerecError, match="booster.txt is missing"):
        load_recommender(tmp_path / "m", c.catalog)


def test_bad_settings_are_refused_before_any_fit():
    with pytest.raises(AnimerecError, match="one depth per member"):
        ranker(depths=(3,))
    with pytest.raises(AnimerecError, match="listed twice"):
        ranker(members=("ease", "ease", "popularity"))
    with pytest.raises(AnimerecError, match="objective must be one of"):
        ranker(objective="regression")
    assert A_IDS  # the clusters module is the shared fixture
