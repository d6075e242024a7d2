"""The Recommender contract, checked on every collaborative model with two taste clusters."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest
from clusters import A_IDS, COLD_ID, two_clusters

from animerec.data.ratings import History
from animerec.recommend import NotFittedError, Recommender, make_recommender, mask_seen, top_k

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


@pytest.mark.parametrize("name", list(SMALL))
def test_scores_cover_the_catalog_with_minus_inf_for_unrated_anime(name):
    model = fitted(name)
    s = model.score([LIKES_A, LIKES_B])
    assert s.dtype == np.float32 and s.shape == (2, len(model.catalog))
    cold = model.catalog.positions([COLD_ID])[0]
    assert np.isneginf(s[:, cold]).all()
    assert np.isfinite(np.delete(s, cold, axis=1)).all()


@pytest.mark.parametrize("name", CF)
def test_a_fan_of_one_cluster_gets_that_cluster_first(name):
    model = fitted(name)
    recs_a = model.recommend([LIKES_A], k=3)[0]
    assert {r.anime_id for r in recs_a} == {3, 4, 5}
    recs_b = model.recommend([LIKES_B], k=3)[0]  # only two B titles are left unseen
    assert {r.anime_id for r in recs_b[:2]} == {14, 15}
    assert recs_b[2].anime_id in A_IDS


@pytest.mark.parametrize("name", list(SMALL))
def test_seen_items_are_excluded_unless_asked(name):
    model = fitted(name)
    h = History.of([3, 4, 11, 12], [10, 9, 10, 10])
    recs = model.recommend([h], k=10)[0]
    ids = [r.anime_id for r in recs]
    assert not set(ids) & {3, 4, 11, 12}
    assert COLD_ID not in ids  # unscorable anime are never recommended
    assert len(ids) == len(model.catalog) - 4 - 1  # all but the seen and the cold one
    scores = [r.score for r in recs]
    assert scores == sorted(scores, reverse=True)
    with_seen = model.recommend([h], k=10, exclude_seen=False)[0]
    assert {3, 4, 11, 12} <= {r.anime_id for r in with_seen}


@pytest.mark.parametrize("name", list(SMALL))
def test_batch_equals_one_by_one(name):
    model = fitted(name)
    hs = [LIKES_A, LIKES_B, History.of([1, 11], [10, 4]), History.of([COLD_ID, 777], [10, 10])]
    batch = model.score(hs)
    single = np.vstack([model.score([h]) for h in hs])
    np.testing.assert_allclose(batch, single, rtol=1e-5, atol=1e-6)
    together = model.recommend(hs, k=4)
    alone = [model.recommend([h], k=4)[0] for h in hs]
    assert [[(r.anime_id, r.reason) for r in rs] for rs in together] == [
        [(r.anime_id, r.reason) for r in rs] for rs in alone
    ]


@pytest.mark.parametrize("name", list(SMALL))
def test_save_load_round_trip_gives_identical_scores_without_pickle(name, tmp_path):
    from animerec.recommend import load_recommender

    model = fitted(name)
    model.save(tmp_path / name)
    with zipfile.ZipFile(tmp_path / name / "state.npz") as z:  # plain .npy members only
        assert all(n.endswith(".npy") for n in z.namelist())
    with np.load(tmp_path / name / "state.npz", allow_pickle=False) as z:
        assert all(z[k].dtype != object for k in z.files)
    loaded = load_recommender(tmp_path / name, two_clusters().catalog)
    assert type(loaded) is type(model) and loaded.params == model.params
    hs = [LIKES_A, LIKES_B]
    np.testing.assert_array_equal(loaded.score(hs), model.score(hs))
    assert loaded.recommend(hs, k=5) == model.recommend(hs, k=5)


@pytest.mark.parametrize("name", CF)
def test_reasons_name_a_liked_history_title(name):
    model = fitted(name)
    recs = model.recommend([LIKES_A], k=3)[0]
    for r in recs:
        if name == "userknn":
            assert r.reason.endswith("with tastes like yours rated it 9+")
        else:
            assert r.reason.startswith("because you liked A1") or r.reason.startswith(
                "because you liked A2"
            )


@pytest.mark.parametrize("name", list(SMALL))
def test_unfitted_model_refuses_to_recommend(name):
    with pytest.raises(NotFittedError):
        make_recommender(name).recommend([LIKES_A])


@pytest.mark.parametrize("name", list(SMALL))
def test_empty_and_unknown_histories_still_get_finite_recommendations(name):
    model = fitted(name)
    recs = model.recommend([History.of([]), History.of([123456], [10])], k=3)
    assert [len(r) for r in recs] == [3, 3]


@pytest.mark.parametrize("name", list(SMALL))
def test_candidates_mask_restricts_recommendations(name):
    model = fitted(name)
    allowed = np.isin(model.catalog.anime_ids, [5, 15])
    recs = model.recommend([LIKES_A], k=5, candidates=allowed)[0]
    assert {r.anime_id for r in recs} <= {5, 15}
    assert [r.anime_id for r in recs][0] == (5 if name in CF else recs[0].anime_id)


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
