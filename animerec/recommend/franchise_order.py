"""The franchise step of the ranking pipeline: entry points before sequels, one card per
franchise, no recaps or music videos in a slot (:mod:`animerec.data.franchise_lists` holds the
list rule; this applies it to a ranked batch under the request's filters).

A fan who never watched Code Geass gets "Code Geass" with "start here: the franchise has 3
more", not R2 at #1 and the first season at #7.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence

import numpy as np

from animerec.data.catalog import Catalog
from animerec.data.franchise import Franchises
from animerec.data.franchise_lists import franchise_aware
from animerec.data.ratings import History
from animerec.recommend.explain import title

__all__ = ["DEPTH", "franchises_of", "order_by_franchise"]

DEPTH = 5
"""Ranked candidates per slot the step reads (collapsing a franchise frees slots)."""

_cache: dict[int, tuple[weakref.ref, Franchises]] = {}


def franchises_of(catalog: Catalog) -> Franchises:
    """The catalog's franchises, built once per catalog object (a few seconds on MAL's)."""
    hit = _cache.get(id(catalog))
    if hit is not None and hit[0]() is catalog:
        return hit[1]
    f = Franchises.build(catalog)
    _cache[id(catalog)] = (weakref.ref(catalog), f)
    weakref.finalize(catalog, _cache.pop, id(catalog), None)
    return f


def order_by_franchise(
    deep: np.ndarray,
    scores: np.ndarray,
    histories: Sequence[History],
    catalog: Catalog,
    franchises: Franchises,
    k: int,
) -> tuple[np.ndarray, np.ndarray, list[list[str]]]:
    """From ``deep`` ranked positions per row (``-1`` padded), the first ``k`` franchise-aware
    ones, their scores (an entry point stands in with the score of the title it replaced) and a
    note per item ("" when there is nothing to say). An entry point the request may not show
    (filtered, excluded, or one the model can't score: its score is ``-inf``) leaves the model's
    own pick in place."""
    n = len(deep)
    positions = np.full((n, k), -1, np.int64)
    out_scores = np.full((n, k), -np.inf, np.float32)
    notes: list[list[str]] = []
    for i, h in enumerate(histories):
        watched = catalog.positions(h.anime_ids)
        watched = watched[watched >= 0]
        ranked = deep[i][deep[i] >= 0]
        entries = franchise_aware(ranked, franchises, watched, k)
        row: list[str] = []
        for j, e in enumerate(entries):
            target = e.position
            if not np.isfinite(scores[i, target]):
                target = e.ranked
            positions[i, j] = target
            out_scores[i, j] = scores[i, e.ranked]
            replaced = e.ranked if e.replaced and target == e.position else None
            row.append(_note(catalog, replaced, e.more))
        notes.append(row)
    return positions, out_scores, notes


def _note(catalog: Catalog, replaced: int | None, more: int) -> str:
    """ "start here, before R2: the franchise has 3 more entries" (or only the count)."""
    entries = "entry" if more == 1 else "entries"
    count = f"the franchise has {more} more {entries}" if more > 0 else ""
    if replaced is None:
        return count
    before = f"start here, before {title(catalog, int(catalog.anime_ids[replaced]))}"
    return f"{before}: {count}" if count else before
