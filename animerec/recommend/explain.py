"""Readable reasons shared by every recommender ("because you liked Monster (0.81)").

Models explain a recommended item by the history item that contributed most to its score; the
helpers here turn such contributions (and counts of fans) into sentences with catalog titles.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from animerec.data.catalog import Catalog
from animerec.data.ratings import History
from animerec.recommend.explore import explored_reasons

if TYPE_CHECKING:
    from animerec.recommend.base import Recommender
    from animerec.recommend.pipeline import Fallback, Ranked

__all__ = [
    "Recommendation",
    "because_you_liked",
    "explain",
    "fans_reason",
    "liked_reasons",
    "NEW_TITLE",
    "new_title_reason",
    "popular_reason",
    "rated_at_least",
    "title",
    "titles",
]


@dataclass(frozen=True)
class Recommendation:
    """One recommended anime with its score and the reason shown for it."""

    anime_id: int
    score: float
    reason: str


def explain(
    model: Recommender,
    histories: Sequence[History],
    ranked: Ranked,
    fallback: Fallback | None = None,
) -> list[list[Recommendation]]:
    """The reason of every ranked item, per history (only what is shown needs explaining).

    Rows the popularity fallback filled say so; items exploration brought in say what is new;
    low-evidence titles (``ranked.new``) say that few fans have rated them yet.
    """
    catalog = model.fitted_catalog()
    out = []
    for i, h in enumerate(histories):
        row = ranked.positions[i]
        idx = row[row >= 0]
        ids = catalog.anime_ids[idx]
        s = ranked.scores[i, : len(idx)]
        if ranked.fallback is not None and ranked.fallback[i] and fallback is not None:
            why = [popular_reason(int(fallback.fans[p]), fallback.min_rating) for p in idx]
        else:
            why = model.reasons(h, ids, s) if len(ids) else []
            if ranked.plain is not None and len(ids):
                why = explored_reasons(h, idx, ranked.plain[i], why, catalog)
            if ranked.notes is not None:
                why = [f"{w}; {n}" if n else w for w, n in zip(why, ranked.notes[i], strict=False)]
            if ranked.new is not None:
                flags = ranked.new[i][row >= 0]
                why = [new_title_reason(w) if f else w for w, f in zip(why, flags, strict=True)]
        out.append(
            [Recommendation(int(a), float(v), r) for a, v, r in zip(ids, s, why, strict=True)]
        )
    return out


NEW_TITLE = "new: few fans have rated it yet"
"""How a low-evidence title (:mod:`animerec.recommend.evidence`) is introduced."""

# Reasons that count fans or lean on the crowd: for a title few fans rated they are no reason.
_CROWD = ("popular with fans", "few fans have rated it yet", "fans who watched it rate it")


def new_title_reason(why: str) -> str:
    """The reason of a low-evidence title: it is new, and why the model picked it anyway
    ("new: few fans have rated it yet — because you liked Monster"); a crowd-count reason is
    dropped, as the crowd is what such a title lacks."""
    if not why or why.startswith(_CROWD):
        return NEW_TITLE
    return f"{NEW_TITLE} — {why}"


def title(catalog: Catalog, anime_id: int) -> str:
    """The catalog name of ``anime_id`` (``anime #ID`` when the catalog lacks it)."""
    pos = catalog.positions([anime_id])[0]
    return str(catalog.names[pos]) if pos >= 0 else f"anime #{anime_id}"


def titles(catalog: Catalog, anime_ids: np.ndarray) -> list[str]:
    """:func:`title` of many anime with one catalog lookup."""
    ids = np.asarray(anime_ids, dtype=np.int64)
    pos = catalog.positions(ids)
    names = catalog.names
    return [str(names[p]) if p >= 0 else f"anime #{a}" for p, a in zip(pos, ids, strict=True)]


def rated_at_least(min_rating: int) -> str:
    """``9+`` for 9, ``10`` for 10: the rating phrase used in reasons."""
    return "10" if min_rating >= 10 else f"{min_rating}+"


def because_you_liked(name: str, weight: float | None = None) -> str:
    """The reason in words; ``weight`` (how much the liked title contributed) is not shown —
    a fan reads "because you liked Monster", not a score."""
    return f"because you liked {name}"


def liked_reasons(
    catalog: Catalog,
    history_ids: np.ndarray,
    contributions: np.ndarray,
    fallback: str,
) -> list[str]:
    """One reason per column of ``contributions [len(history_ids), n_recommended]``.

    Each recommended item is credited to the history item with the largest positive
    contribution; items nothing in the history pushed up get ``fallback``.
    """
    n_rec = contributions.shape[1]
    if len(history_ids) == 0 or contributions.shape[0] == 0:
        return [fallback] * n_rec
    best = np.argmax(contributions, axis=0)
    value = contributions[best, np.arange(n_rec)]
    names = titles(catalog, np.asarray(history_ids)[best])
    return [
        because_you_liked(name, float(v)) if v > 0 else fallback
        for name, v in zip(names, value, strict=True)
    ]


def fans_reason(n_fans: int, min_rating: int) -> str:
    """Why a user-neighbourhood model picked an item: how many look-alike fans loved it."""
    who = "fan" if n_fans == 1 else "fans"
    return f"{n_fans} {who} with tastes like yours rated it {rated_at_least(min_rating)}"


def popular_reason(n_fans: int, min_rating: int) -> str:
    users = "training user" if n_fans == 1 else "training users"
    return f"popular with fans: {n_fans} {users} rated it {rated_at_least(min_rating)}"
