"""The Recommender contract as a mixin (like implicit's ``RecommenderBase`` tests): a test class
per model subclasses :class:`RecommenderContract`, says how to build the model for the two taste
clusters of :mod:`clusters`, and inherits every check of the contract and the ranking pipeline.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from clusters import A_IDS, B_IDS, COLD_ID, two_clusters

from animerec.data.ratings import History
from animerec.recommend import (
    Fallback,
    Filters,
    NotFittedError,
    RankOptions,
    Recommender,
    load_recommender,
    rank_batch,
)
from animerec.recommend.explain import explain
from animerec.recommend.state_files import LEGACY_STATE, STATE_DIR, read_state

LIKES_A = History.of([1, 2], [10, 9])
LIKES_B = History.of([11, 12, 13], [10, 10, 9])


class RecommenderContract:
    """Every model: scores over the catalog, ranking through the one pipeline, uniform filters,
    persistence without pickle, batch = one by one. Subclasses define :meth:`make`."""

    personalises: bool = True
    """Whether a fan of cluster A gets cluster A first (popularity does not personalise)."""
    scores_cold: bool = False
    """Whether the model can score anime nobody rated (content can, collaborative models can't)."""

    def make(self) -> Recommender:  # pragma: no cover - each subclass says how
        raise NotImplementedError

    def fitted(self) -> Recommender:
        c = two_clusters()
        return self.make().fit(c.train, c.catalog)

    # --- scoring -----------------------------------------------------------------------------
    def test_scores_cover_the_catalog(self):
        model = self.fitted()
        s = model.score([LIKES_A, LIKES_B])
        assert s.dtype == np.float32 and s.shape == (2, len(model.catalog))
        cold = model.catalog.positions([COLD_ID])[0]
        assert np.isfinite(s[:, cold]).all() == self.scores_cold
        assert np.isfinite(np.delete(s, cold, axis=1)).all()

    def test_a_fan_of_one_cluster_gets_that_cluster_first(self):
        model = self.fitted()
        if not self.personalises:  # the same list for everyone, by design
            a, b = (model.recommend([h], k=11, exclude_seen=False)[0] for h in (LIKES_A, LIKES_B))
            assert [r.anime_id for r in a] == [r.anime_id for r in b]
            return
        adult = Filters(include_adult=True)  # A5 is an adult title: only on request
        assert {r.anime_id for r in model.recommend([LIKES_A], k=3, filters=adult)[0]} == {3, 4, 5}
        assert {r.anime_id for r in model.recommend([LIKES_A], k=2)[0]} == {3, 4}
        recs_b = model.recommend([LIKES_B], k=2)[0]  # only two B titles are left unseen
        assert {r.anime_id for r in recs_b} == {14, 15}

    def test_batch_equals_one_by_one(self):
        model = self.fitted()
        hs = [LIKES_A, LIKES_B, History.of([1, 11], [10, 4]), History.of([COLD_ID, 777], [10, 10])]
        np.testing.assert_allclose(
            model.score(hs), np.vstack([model.score([h]) for h in hs]), rtol=1e-5, atol=1e-6
        )
        together = model.recommend(hs, k=4)
        alone = [model.recommend([h], k=4)[0] for h in hs]
        assert [[(r.anime_id, r.reason) for r in rs] for rs in together] == [
            [(r.anime_id, r.reason) for r in rs] for rs in alone
        ]

    def test_unfitted_model_refuses(self):
        with pytest.raises(NotFittedError):
            self.make().recommend([LIKES_A])

    def test_empty_and_unknown_histories_still_get_lists(self):
        recs = self.fitted().recommend([History.of([]), History.of([123456], [10])], k=3)
        assert [len(r) for r in recs] == [3, 3]

    # --- the ranking pipeline ----------------------------------------------------------------
    def test_ranking_returns_arrays_and_explain_is_a_separate_step(self):
        model = self.fitted()
        hs = [LIKES_A, LIKES_B]
        ranked = rank_batch(model, hs, RankOptions(k=4))
        assert ranked.positions.shape == ranked.scores.shape == (2, 4)
        assert ranked.positions.dtype == np.int64 and ranked.scores.dtype == np.float32
        assert (np.diff(ranked.scores, axis=1) <= 0).all()  # best first
        recs = explain(model, hs, ranked)
        ids = ranked.ids(model.catalog)
        assert [[r.anime_id for r in rs] for rs in recs] == ids.tolist()
        assert recs == model.recommend(hs, k=4)
        assert all(r.reason for rs in recs for r in rs)

    def test_seen_items_are_excluded_unless_asked(self):
        model = self.fitted()
        h = History.of([3, 4, 11, 12], [10, 9, 10, 10])
        ids = [r.anime_id for r in model.recommend([h], k=11)[0]]
        assert not set(ids) & {3, 4, 11, 12}
        assert (COLD_ID in ids) == self.scores_cold  # unscorable anime are never recommended
        with_seen = model.recommend([h], k=11, exclude_seen=False)[0]
        assert {3, 4, 11, 12} <= {r.anime_id for r in with_seen}

    def test_exclusion_and_allow_lists(self):
        model = self.fitted()
        hidden = Filters(exclude=(3, 4))
        ids = {r.anime_id for r in model.recommend([LIKES_A], k=11, filters=hidden)[0]}
        assert not ids & {3, 4, 1, 2}
        allow = Filters(allow=(4, 15))
        ids = [r.anime_id for r in model.recommend([LIKES_A], k=5, filters=allow)[0]]
        assert set(ids) <= {4, 15} and ids
        if self.personalises:
            assert ids[0] == 4
        mask = np.isin(model.catalog.anime_ids, [4, 15])
        assert model.recommend([LIKES_A], k=5, candidates=mask) == model.recommend(
            [LIKES_A], k=5, filters=allow
        )

    def test_metadata_predicates(self):
        model = self.fitted()
        films = {
            r.anime_id
            for r in model.recommend([LIKES_A], k=11, filters=Filters(types=("Movie",)))[0]
        }
        assert films and films <= set(B_IDS)
        every = [LIKES_A, LIKES_B, History.of([])]
        for recs in model.recommend(every, k=11):  # adult titles never by default
            assert 5 not in {r.anime_id for r in recs}
        adult = Filters(include_adult=True)
        assert 5 in {r.anime_id for r in model.recommend([LIKES_A], k=11, filters=adult)[0]}
        years = Filters(year_min=1992, year_max=1993)  # A3 (1992), A4 (1993)
        assert {r.anime_id for r in model.recommend([LIKES_A], k=11, filters=years)[0]} <= {3, 4}
        comedy = Filters(genres=("Comedy",))
        assert {r.anime_id for r in model.recommend([LIKES_A], k=11, filters=comedy)[0]} <= set(
            B_IDS
        )
        no_comedy = Filters(exclude_genres=("comedy",))
        got = {r.anime_id for r in model.recommend([LIKES_A], k=11, filters=no_comedy)[0]}
        assert not got & set(B_IDS)

    def test_fallback_fills_lists_the_model_cannot_make(self):
        c = two_clusters()
        model = self.make().fit(c.train, c.catalog)
        fallback = Fallback.of(c.train, c.catalog)
        everything = History.of([*A_IDS, *B_IDS[:-1]], [10] * 9)  # one scorable title left
        ranked = rank_batch(model, [everything], RankOptions(k=3), fallback=fallback)
        assert ranked.fallback.tolist() == [True]
        recs = explain(model, [everything], ranked, fallback)[0]
        assert [r.anime_id for r in recs] == [15]  # nothing else left that fans loved
        assert recs[0].reason.startswith("popular with fans")

    # --- persistence -------------------------------------------------------------------------
    def test_save_load_round_trip_without_pickle(self, tmp_path):
        model = self.fitted()
        model.save(tmp_path / "m")
        files = sorted((tmp_path / "m" / STATE_DIR).iterdir())
        assert files and all(f.suffix == ".npy" for f in files)  # plain .npy files only
        assert not (tmp_path / "m" / LEGACY_STATE).exists()
        for f in files:  # none needs pickle
            np.load(f, allow_pickle=False)
        loaded = load_recommender(tmp_path / "m", two_clusters().catalog)
        assert type(loaded) is type(model)
        self.assert_same_lists(loaded, model)

    def test_the_loaded_arrays_are_read_only_maps_and_scoring_never_writes(self, tmp_path):
        model = self.fitted()
        model.save(tmp_path / "m")
        arrays = read_state(tmp_path / "m")
        numeric = [a for a in arrays.values() if a.dtype.kind not in "USV"]
        assert numeric and all(isinstance(a, np.memmap) and not a.flags.writeable for a in numeric)
        loaded = load_recommender(tmp_path / "m", two_clusters().catalog)
        # a write into a read-only map raises, so the whole pipeline ran on the shared pages
        loaded.recommend([LIKES_A, LIKES_B, History.of([1, 11], [10, 4])], k=4, explore=0.5)

    def test_a_model_saved_as_state_npz_before_the_npy_layout_still_loads(self, tmp_path):
        model = self.fitted()
        model.save(tmp_path / "m")
        state = tmp_path / "m" / STATE_DIR
        arrays = {k: np.array(v) for k, v in read_state(tmp_path / "m").items()}
        np.savez(tmp_path / "m" / LEGACY_STATE, **arrays)  # what Recommender.save wrote before
        shutil.rmtree(state)
        loaded = load_recommender(tmp_path / "m", two_clusters().catalog)
        self.assert_same_lists(loaded, model)

    @staticmethod
    def assert_same_lists(loaded: Recommender, model: Recommender) -> None:
        hs = [LIKES_A, LIKES_B]
        np.testing.assert_allclose(loaded.score(hs), model.score(hs), rtol=1e-6)
        assert [[r.anime_id for r in rs] for rs in loaded.recommend(hs, k=5)] == [
            [r.anime_id for r in rs] for rs in model.recommend(hs, k=5)
        ]
