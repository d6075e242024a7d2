"""The franchise step of the ranking pipeline, on the hand-made franchises of the data tests:
the first season before its sequel, one card per franchise, no recap in a slot, notes in words,
and an entry point the filters hide leaves the model's own pick."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from animerec.data.ratings import History
from animerec.recommend.filters import Filters
from animerec.recommend.pipeline import RankOptions, select

# The hand-made franchises live with the data tests (one catalog for both layers' tests).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))
from test_franchise_groups import _synthetic  # noqa: E402

R1, RECAP, R2, MOVIE, CLANNAD, AFTER = 1575, 2124, 2904, 34437, 2167, 4181


def scores_for(catalog, ranked_ids: list[int]) -> np.ndarray:
    """A score row that ranks ``ranked_ids`` first, in that order, and everything else lower."""
    s = np.linspace(0.0, 0.1, len(catalog), dtype=np.float32)[None, :].copy()
    for i, a in enumerate(ranked_ids):
        s[0, catalog.positions([a])[0]] = 10.0 - i
    return s


def test_entry_points_one_card_per_franchise_no_extras():
    catalog = _synthetic()
    order = [R2, RECAP, MOVIE, AFTER, R1, CLANNAD]
    ranked = select(
        scores_for(catalog, order), [History.of([])], catalog, RankOptions(k=3, franchise=True)
    )
    ids = ranked.ids(catalog)[0].tolist()
    assert ids[0] == R1 and ids[1] == CLANNAD  # R2 → Code Geass; After Story → Clannad
    assert RECAP not in ids and R2 not in ids and MOVIE not in ids  # one card per franchise
    assert ranked.notes[0][0].startswith("start here, before Code Geass: Hangyaku no Lelouch R2")
    assert "more entr" in ranked.notes[0][0]
    plain = select(scores_for(catalog, order), [History.of([])], catalog, RankOptions(k=3))
    assert plain.ids(catalog)[0].tolist()[:2] == [R2, RECAP] and plain.notes is None


def test_a_watched_first_season_leads_to_the_next_one():
    catalog = _synthetic()
    watched = History.of([R1], [9])
    ranked = select(
        scores_for(catalog, [MOVIE, R2]), [watched], catalog, RankOptions(k=2, franchise=True)
    )
    assert ranked.ids(catalog)[0].tolist()[0] == R2  # the film waits for R2


def test_an_entry_point_the_filters_hide_keeps_the_models_pick():
    catalog = _synthetic()
    films = Filters(types=("Movie",))
    ranked = select(
        scores_for(catalog, [MOVIE]), [History.of([])], catalog,
        RankOptions(k=1, franchise=True, filters=films),
    )  # fmt: skip
    assert ranked.ids(catalog)[0].tolist() == [MOVIE]
