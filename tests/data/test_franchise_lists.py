"""Franchise-aware lists: entry points, one card per franchise, no extras."""

from __future__ import annotations

from test_franchise_groups import _synthetic

from animerec.data.catalog import Catalog
from animerec.data.franchise import Franchises
from animerec.data.franchise_lists import franchise_aware


def _setup() -> tuple[Catalog, Franchises, dict[int, int]]:
    cat = _synthetic()
    fr = Franchises.build(cat)
    return cat, fr, {int(a): i for i, a in enumerate(cat.anime_ids)}


def test_later_entries_become_entry_points_once_per_franchise() -> None:
    cat, fr, p = _setup()
    # a model's ranking: R2, the recap, Clannad After Story, Code Geass, Monster, the film
    ranked = [p[2904], p[2124], p[4181], p[1575], p[19], p[34437], p[42]]
    got = franchise_aware(ranked, fr, watched=[], k=10)
    shown = [int(cat.anime_ids[e.position]) for e in got]
    assert shown == [1575, 2167, 19, 42]  # Code Geass for R2, Clannad for After Story
    assert got[0].replaced and cat.anime_ids[got[0].ranked] == 2904
    assert got[0].more == 2  # R2 and the film (the recap is an extra)
    assert not got[2].replaced and got[2].more == 0


def test_watched_parts_lead_to_the_next_entry() -> None:
    cat, fr, p = _setup()
    ranked = [p[34437], p[2904], p[10379]]
    got = franchise_aware(ranked, fr, watched=[p[1575], p[4081]], k=5)
    # the 2019 film comes after R2 (2008), unwatched: R2 is shown for it, once
    assert [int(cat.anime_ids[e.position]) for e in got] == [2904, 5300]
    assert cat.anime_ids[got[0].ranked] == 34437
    assert got[1].replaced  # Natsume season 3 waits for season 2


def test_extras_k_and_what_was_watched() -> None:
    cat, fr, p = _setup()
    assert franchise_aware([p[2124]], fr, watched=[], k=5) == []
    kept = franchise_aware([p[2124]], fr, watched=[p[1575]], k=5, keep_extras=True)
    assert [int(cat.anime_ids[e.position]) for e in kept] == [2124]
    assert franchise_aware([p[19], p[42]], fr, watched=[p[19]], k=5)[0].position == p[42]
    assert len(franchise_aware([p[19], p[42], p[20]], fr, watched=[], k=2)) == 2
    assert franchise_aware([-1], fr, watched=[], k=2) == []


def test_on_the_sample(sample_catalog: Catalog) -> None:
    fr = Franchises.build(sample_catalog)
    pos = {int(a): i for i, a in enumerate(sample_catalog.anime_ids)}
    ranked = [pos[i] for i in (2904, 11741, 9656, 4181, 1575, 2124)]
    got = franchise_aware(ranked, fr, watched=[], k=10)
    shown = [int(sample_catalog.anime_ids[e.position]) for e in got]
    assert shown == [1575, 10087, 6045, 2167]  # Code Geass, Fate/Zero, Kimi ni Todoke, Clannad
