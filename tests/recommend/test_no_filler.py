"""No filler, for every model of the contract: at explore 0 a low-evidence title (few training
raters) appears only through the labelled new-title path; exploration and the cold-start path
can still surface one (:mod:`animerec.recommend.evidence`)."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import test_contract
from clusters import A_IDS, B_IDS, COLD_ID, two_clusters
from contract import LIKES_A, LIKES_B

from animerec.data.ratings import History
from animerec.evaluate.measure import rank_lists
from animerec.recommend import Fallback, Filters, RankOptions, rank_batch, select
from animerec.recommend.evidence import Evidence, admit_new, hold_back
from animerec.recommend.explain import NEW_TITLE, explain

# The data tests' hand-made franchises (one catalog for both layers' tests).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))
from test_franchise_groups import _synthetic  # noqa: E402

CONTRACTS = sorted(
    (cls for name, cls in vars(test_contract).items() if name.startswith("Test")),
    key=lambda c: c.__name__,
)
"""Every model the recommender contract runs (a model added there is checked here too)."""
FEW = [3, 14]
"""Titles the tests pretend few fans rated: the best unseen pick of an A fan and of a B fan."""
HISTORIES = [LIKES_A, LIKES_B, History.of([]), History.of([1, 11], [10, 4])]


def few_raters(catalog) -> Evidence:
    """The clusters' real rater counts, with :data:`FEW` rated by one user each."""
    raters = Evidence.of(two_clusters().train, catalog).raters.copy()
    raters[catalog.positions(FEW)] = 1
    return Evidence(raters)


@pytest.fixture(params=CONTRACTS, ids=lambda c: c.__name__.removeprefix("Test").lower())
def contract(request):
    c = request.param()
    c.model = c.fitted()
    return c


def low_in(ids: np.ndarray) -> np.ndarray:
    return np.isin(ids, [*FEW, COLD_ID])


def test_clusters_rate_every_title_but_the_cold_one_enough():
    c = two_clusters()
    ev = Evidence.of(c.train, c.catalog)
    assert ev.raters[c.catalog.positions([COLD_ID])].tolist() == [0]
    assert (np.delete(ev.raters, c.catalog.positions([COLD_ID])) == 6).all()


@pytest.mark.parametrize("franchise", [False, True])
@pytest.mark.parametrize("new_slots", [0, 1])
def test_at_explore_0_low_evidence_titles_come_only_labelled(contract, new_slots, franchise):
    model, c = contract.model, two_clusters()
    fallback, evidence = Fallback.of(c.train, c.catalog), few_raters(model.catalog)
    opts = RankOptions(k=4, min_raters=2, new_slots=new_slots, franchise=franchise)
    ranked = rank_batch(model, HISTORIES, opts, fallback=fallback, evidence=evidence)
    ids = ranked.ids(model.catalog)
    low = low_in(ids)
    assert (ranked.new == low).all()
    assert (low.sum(axis=1) <= new_slots).all()
    assert not low[ranked.fallback].any()  # the fallback never shows one
    for rs, flags in zip(explain(model, HISTORIES, ranked, fallback), low, strict=True):
        for r, flag in zip(rs, flags, strict=False):
            assert r.reason.startswith(NEW_TITLE) == bool(flag), r
            assert not (flag and "rated it" in r.reason and "popular" in r.reason)
    # what the model ranks inside its top k comes back (at most new_slots of it, labelled)
    free = rank_batch(model, HISTORIES, RankOptions(k=4, min_raters=0, franchise=franchise))
    free_ids = free.ids(model.catalog)
    for i in np.flatnonzero(~ranked.fallback):
        if low_in(free_ids[i]).sum() <= new_slots:
            assert set(ids[i]) == set(free_ids[i])
        if not franchise and low_in(free_ids[i]).sum() <= new_slots:
            assert ids[i].tolist() == free_ids[i].tolist()  # at the model's own rank


def test_the_models_own_first_pick_with_few_raters_keeps_its_rank_labelled(contract):
    model = contract.model
    free = rank_batch(model, [LIKES_A], RankOptions(k=2, min_raters=0)).ids(model.catalog)[0]
    first = int(free[0])  # whatever this model ranks first: pretend two fans rated it
    raters = Evidence.of(two_clusters().train, model.catalog).raters.copy()
    raters[model.catalog.positions([first])] = 2
    evidence = Evidence(raters)
    ranked = rank_batch(model, [LIKES_A], RankOptions(k=2, min_raters=3), evidence=evidence)
    assert ranked.ids(model.catalog)[0].tolist() == free.tolist()  # at the model's own rank
    assert ranked.new[0].tolist() == [True, False]
    reasons = [r.reason for r in explain(model, [LIKES_A], ranked)[0]]
    assert reasons[0].startswith(NEW_TITLE) and not reasons[1].startswith(NEW_TITLE)
    opts = RankOptions(k=2, min_raters=3, new_slots=0)
    assert first not in rank_batch(model, [LIKES_A], opts, evidence=evidence).ids(model.catalog)


def test_exploration_can_surface_low_evidence_titles_labelled(contract):
    model = contract.model
    opts = RankOptions(k=9, min_raters=2, explore=0.5, filters=Filters(include_adult=True))
    ranked = rank_batch(model, [LIKES_A, LIKES_B], opts, evidence=few_raters(model.catalog))
    ids = ranked.ids(model.catalog)
    assert set(FEW) <= set(ids[0]) and set(FEW) <= set(ids[1])  # more than one new slot's worth
    assert (ranked.new == low_in(ids)).all()
    for rs in explain(model, [LIKES_A, LIKES_B], ranked):
        for r in rs:
            assert r.reason.startswith(NEW_TITLE) == (r.anime_id in (*FEW, COLD_ID))


def test_the_cold_start_path_surfaces_a_title_nobody_rated(contract):
    """A model that can score a title nobody rated (content, the hybrid) still recommends it
    at explore 0, labelled; collaborative models can't score it at all."""
    model = contract.model
    c = two_clusters()
    only = Filters(allow=(COLD_ID, 14, 15))
    opts = RankOptions(k=3, filters=only, min_raters=2)  # rated titles have 6 raters
    ranked = rank_batch(model, [LIKES_A], opts, evidence=Evidence.of(c.train, c.catalog))
    recs = explain(model, [LIKES_A], ranked)[0]
    got = {r.anime_id: r.reason for r in recs}
    assert (COLD_ID in got) == contract.scores_cold
    if contract.scores_cold:
        assert got[COLD_ID].startswith(NEW_TITLE)
    assert {14, 15} <= set(got)
    assert not any(got[a].startswith(NEW_TITLE) for a in (14, 15))


# --- the mechanics, on arrays ---------------------------------------------------------------
def test_hold_back_masks_low_titles_and_keeps_the_best_as_picks():
    scores = np.array([[5.0, 9.0, 1.0, 8.0], [1.0, 2.0, 3.0, -np.inf]], np.float32)
    ev = Evidence(np.array([50, 2, 50, 0]))
    held = hold_back(scores, ev, min_raters=10, new_slots=1, explore=0.0)
    assert held.low.tolist() == [False, True, False, True]
    assert held.picks[:, :2].tolist() == [[1, 3], [1, -1]]  # best first; -inf is no pick
    assert held.pick_scores[:, 0].tolist() == [9.0, 2.0]
    assert np.isneginf(scores[:, [1, 3]]).all()
    assert hold_back(scores, None, min_raters=10, new_slots=1, explore=0.0) is None
    assert hold_back(scores, ev, min_raters=0, new_slots=1, explore=0.0) is None
    explored = hold_back(np.ones((1, 4), np.float32), ev, min_raters=10, new_slots=1, explore=0.3)
    assert explored.picks is None  # exploration masks nothing
    with pytest.raises(ValueError, match="evidence covers 4 titles, the scores 3"):
        hold_back(np.ones((1, 3), np.float32), ev, min_raters=10, new_slots=1, explore=0.0)


def test_admit_new_lets_a_pick_in_only_where_it_ranks_inside_the_top_k():
    held = hold_back(
        np.array([[5.0, 9.0, 4.0, 3.0], [5.0, 1.0, 4.0, 3.0], [5.0, 1.0, -np.inf, -np.inf]]),
        Evidence(np.array([50, 2, 50, 50])),
        min_raters=10,
        new_slots=1,
        explore=0.0,
    )
    pos = np.array([[0, 2], [0, 2], [0, -1]])
    sc = np.array([[5.0, 4.0], [5.0, 4.0], [5.0, -np.inf]], np.float32)
    p, s, new = admit_new(pos, sc, held)
    assert p.tolist() == [[1, 0], [0, 2], [0, 1]]  # in first; out (ranks below); fills a gap
    assert new.tolist() == [[True, False], [False, False], [False, True]]
    p, _, _ = admit_new(pos, sc, held, by_score=False)
    assert p.tolist() == [[0, 1], [0, 2], [0, 1]]  # a franchise order keeps its entries first
    p, _, new = admit_new(pos, sc, held, skip=np.array([True, False, False]))
    assert p[0].tolist() == [0, 2] and not new[0].any()


def test_rank_options_refuse_negative_evidence_settings():
    with pytest.raises(ValueError, match="min_raters and new_slots"):
        RankOptions(min_raters=-1)
    with pytest.raises(ValueError, match="min_raters and new_slots"):
        RankOptions(new_slots=-1)


def test_ids_outside_the_catalog_are_ignored_by_evidence():
    c = two_clusters()
    extra = type(c.train).from_arrays([1, 2], [A_IDS[0], 123456], [10, 10])
    assert Evidence.of(extra, c.catalog).raters.sum() == 1
    assert len(Evidence.of(extra, c.catalog).raters) == len(c.catalog) == len(A_IDS + B_IDS) + 1


def test_the_threshold_never_exceeds_one_percent_of_the_users():
    c = two_clusters()
    ev = Evidence.of(c.train, c.catalog)  # 12 users: only a title nobody rated is low-evidence
    assert ev.n_users == 12 and ev.threshold(10) == 1
    assert ev.low(10).tolist() == (c.catalog.anime_ids == COLD_ID).tolist()
    raters = np.array([0, 4, 9, 10, 30])
    assert Evidence(raters, 5_000).threshold(10) == 10  # DEV and larger: the threshold binds
    assert Evidence(raters, 500).low(10).tolist() == [True, True, False, False, False]
    assert Evidence(raters).threshold(10) == 10 and Evidence(raters, 500).threshold(0) == 0


def test_a_franchise_aware_list_takes_no_recap_or_second_card_as_its_new_title():
    catalog = _synthetic()
    r1, recap, movie, clannad, after, lone = 1575, 2124, 34437, 2167, 4181, 42
    raters = np.full(len(catalog), 100)
    raters[catalog.positions([recap, movie, after, lone])] = 1
    s = np.linspace(0.0, 0.1, len(catalog), dtype=np.float32)[None, :].copy()
    for i, a in enumerate([r1, recap, clannad, movie, after, lone]):
        s[0, catalog.positions([a])[0]] = 10.0 - i
    opts = RankOptions(k=3, franchise=True, new_slots=3)
    ranked = select(s, [History.of([])], catalog, opts, evidence=Evidence(raters))
    ids = ranked.ids(catalog)[0].tolist()
    # the recap is an extra, the film and After Story share a franchise with a card shown
    assert ids[:2] == [r1, clannad] and ids[2] == lone
    assert ranked.new[0].tolist() == [False, False, True]


def test_the_evaluation_holds_back_as_served_and_its_cold_start_lists_still_reach_new_titles():
    c = two_clusters()
    cold = c.catalog.anime_ids == COLD_ID
    evidence = few_raters(c.catalog)
    for contract, reaches in (
        (test_contract.TestContent(), True),
        (test_contract.TestEASE(), False),
    ):
        model = contract.fitted()
        lists = rank_lists(model, [LIKES_A, LIKES_B], 9, cold_mask=cold, evidence=evidence,
                           min_raters=2, explore=(0.0, 0.5))  # fmt: skip
        assert (low_in(lists.top).sum(axis=1) <= 1).all()  # one labelled new title at most
        assert (lists.cold[:, 0] == COLD_ID).all() == reaches  # the cold-start lists: unchanged
        assert all(set(FEW) <= set(row) for row in lists.explored[0.5])  # exploration admits
        free = rank_lists(model, [LIKES_A, LIKES_B], 9, cold_mask=cold, min_raters=0)
        assert (low_in(free.top).sum(axis=1) >= 2).all()  # what the rule held back


def test_a_list_the_rule_shortens_is_not_handed_to_the_popularity_fallback(contract):
    model, c = contract.model, two_clusters()
    fallback = Fallback.of(c.train, c.catalog)
    opts = RankOptions(k=3, min_raters=2, filters=Filters(allow=(3, 4, 14)))
    ranked = rank_batch(model, [LIKES_A], opts, fallback=fallback, evidence=few_raters(c.catalog))
    free = rank_batch(model, [LIKES_A], replace(opts, min_raters=0), fallback=fallback)
    assert ranked.fallback.tolist() == free.fallback.tolist()  # as the model could rank them
    if free.fallback[0]:  # every score tied (popularity here): the fallback's, rule or not
        return
    ids = [a for a in ranked.ids(model.catalog)[0].tolist() if a >= 0]
    assert 4 in ids and len(ids) == 2 and len(set(ids) & {3, 14}) == 1  # one new title, labelled
    reasons = {r.anime_id: r.reason for r in explain(model, [LIKES_A], ranked, fallback)[0]}
    assert not reasons[4].startswith(("popular with fans", NEW_TITLE))


class _Says:
    """The two things :func:`explain` asks of a model, for lists built by :func:`select`."""

    def __init__(self, catalog) -> None:
        self.catalog = catalog

    def fitted_catalog(self):
        return self.catalog

    def reasons(self, history, ids, scores) -> list[str]:
        return [f"because of {int(a)}" for a in ids]


def test_a_short_franchise_list_that_takes_a_new_title_explains_every_entry():
    """One card per franchise can leave a list short of k; a new title then fills a free slot
    and must get a reason of its own, not crash the explanation (it did: a 500 from
    ``POST /recommend`` for a fan of one franchise) nor inherit another entry's note."""
    catalog = _synthetic()
    r1, recap, movie, clannad, after, lone = 1575, 2124, 34437, 2167, 4181, 42
    raters = np.full(len(catalog), 100)
    raters[catalog.positions([lone])] = 1
    s = np.zeros((1, len(catalog)), np.float32)
    for i, a in enumerate([r1, recap, clannad, movie, after, lone]):
        s[0, catalog.positions([a])[0]] = 10.0 - i
    only = Filters(allow=(r1, recap, clannad, movie, after, lone))
    opts = RankOptions(k=5, franchise=True, filters=only)
    ranked = select(s, [History.of([])], catalog, opts, evidence=Evidence(raters))
    ids = [a for a in ranked.ids(catalog)[0].tolist() if a >= 0]
    assert ids == [r1, clannad, lone]  # two franchise cards, then the new title in a free slot
    assert ranked.new[0].tolist()[:3] == [False, False, True]
    assert len(ranked.notes[0]) >= len(ids) and ranked.notes[0][2] == ""
    recs = explain(_Says(catalog), [History.of([])], ranked)[0]
    assert [r.anime_id for r in recs] == ids
    assert recs[2].reason == f"{NEW_TITLE} — because of {lone}"
    assert not recs[0].reason.startswith(NEW_TITLE) and recs[0].reason.startswith("because of")
