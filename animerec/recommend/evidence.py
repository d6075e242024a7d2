"""No filler: titles few training users rated enter a list only as labelled new titles.

Why: a score resting on three ratings is noise, and "popular: 3 people rated it" is no reason a
fan can trust — yet popularity debiasing, learned fusions and coverage tie-breaks push exactly
such titles up. So the ranking pipeline treats evidence the same for every model: at
``explore = 0`` a title with fewer than ``min_raters`` raters in the training ratings is held
back; up to ``new_slots`` of them per list come back, and only where the model ranks them
inside its own top k anyway (the cold-start path: a content model still surfaces a new title).
Every such title is flagged in ``Ranked.new`` so the explanation says so in words ("new: few
fans have rated it yet — …", :func:`animerec.recommend.explain.new_title_reason`). With
``explore > 0`` they may appear anywhere, flagged the same. The popularity fallback never
recommends one (its only reason would be their fan count).

The default threshold was chosen on DEV validation users (docs/experiments.md, "No filler").
"Few" is also relative to the community: in a workspace of a few dozen users (a demo, the
tests) every title has few raters, so the threshold never exceeds 1% of the users (at least 1:
titles nobody rated stay low-evidence) — it binds from 1,000 users up, the DEV sample included.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from animerec.data.catalog import Catalog
from animerec.data.franchise import Franchises
from animerec.data.ratings import Ratings
from animerec.recommend.ranking import NONE, top_k

__all__ = [
    "MIN_RATERS",
    "MIN_SHARE",
    "NEW_SLOTS",
    "Evidence",
    "Held",
    "admit_new",
    "hold_back",
    "keep_franchise_picks",
]

MIN_RATERS = 10
"""Titles rated by fewer training users are low-evidence (0 turns the rule off)."""
MIN_SHARE = 0.01
"""The threshold never exceeds this share of the users (a tiny workspace's titles all have few)."""
NEW_SLOTS = 1
"""Low-evidence titles a list at ``explore = 0`` may still hold, labelled as new."""
PICK_DEPTH = 5
"""Candidates kept per new slot (the franchise step may refuse some)."""


@dataclass(frozen=True)
class Evidence:
    """How many training users rated each catalog position: what a model's score rests on,
    whatever the model."""

    raters: np.ndarray
    """``int64 [n_items]``."""
    n_users: int | None = None
    """Users the counts come from (None: the threshold is taken as given)."""

    @classmethod
    def of(cls, ratings: Ratings, catalog: Catalog) -> Evidence:
        """Raters per catalog position in ``ratings`` (ids outside the catalog are ignored)."""
        pos = catalog.positions(ratings.anime_id)
        raters = np.bincount(pos[pos >= 0], minlength=len(catalog)).astype(np.int64)
        return cls(raters, int(len(np.unique(ratings.user_id))))

    def threshold(self, min_raters: int) -> int:
        """``min_raters``, at most :data:`MIN_SHARE` of the users (at least 1)."""
        if self.n_users is None or min_raters <= 0:
            return min_raters
        return min(min_raters, max(1, math.ceil(MIN_SHARE * self.n_users)))

    def low(self, min_raters: int) -> np.ndarray:
        """``bool [n_items]``: titles rated by fewer than :meth:`threshold` training users."""
        return self.raters < self.threshold(min_raters)


@dataclass
class Held:
    """What :func:`hold_back` took out of one block of lists."""

    low: np.ndarray
    """``bool [n_items]``: the low-evidence titles."""
    picks: np.ndarray | None
    """``int64 [n, new_slots · PICK_DEPTH]``: per row its best low-evidence candidates, best
    first (``-1`` pads); None when nothing was held back (``explore > 0``, or no title is
    low-evidence)."""
    pick_scores: np.ndarray | None
    slots: int = NEW_SLOTS
    """How many of the picks a list may take."""

    def hit(self, positions: np.ndarray) -> bool:
        """Whether ranked ``positions`` (``-1`` pads) hold a low-evidence title."""
        return bool((self.low[np.maximum(positions, 0)] & (positions >= 0)).any())

    def trusted(self, allow: np.ndarray | None) -> np.ndarray:
        """``allow`` without the low-evidence titles (what the popularity fallback may show)."""
        return ~self.low if allow is None else allow & ~self.low


def hold_back(
    scores: np.ndarray,
    evidence: Evidence | None,
    *,
    min_raters: int,
    new_slots: int,
    explore: float,
) -> Held | None:
    """Hold the low-evidence titles back from ``scores`` (already masked by the filters;
    modified in place) at ``explore = 0``, keeping each row's ``new_slots`` best of them as
    candidates for :func:`admit_new`. None: the rule is off (no evidence, ``min_raters`` 0)."""
    if evidence is None or min_raters <= 0:
        return None
    if len(evidence.raters) != scores.shape[1]:
        raise ValueError(
            f"evidence covers {len(evidence.raters)} titles, the scores {scores.shape[1]}"
        )
    low = evidence.low(min_raters)
    if explore > 0 or not low.any():
        return Held(low, None, None, new_slots)
    sub = np.where(low, scores, -np.inf) if new_slots > 0 else scores[:, :0]
    picks = top_k(sub, new_slots * PICK_DEPTH)
    pick_scores = np.take_along_axis(sub, picks, axis=1)
    picks = np.where(np.isfinite(pick_scores), picks, NONE)
    np.copyto(scores, np.float32(-np.inf), where=low[None, :])  # 4x a boolean-index write
    return Held(low, picks, pick_scores, new_slots)


def keep_franchise_picks(held: Held, positions: np.ndarray, franchises: Franchises) -> None:
    """Drop the picks a franchise-aware list may not take (in place): a recap or music video,
    or a title of a franchise the list already shows (one card per franchise)."""
    if held.picks is None or not held.picks.shape[1]:
        return
    ok = held.picks >= 0
    safe = np.maximum(held.picks, 0)
    ok &= franchises.story_mask[safe]
    shown = np.where(positions >= 0, franchises.franchise_of[np.maximum(positions, 0)], -1)
    ok &= ~(franchises.franchise_of[safe][:, :, None] == shown[:, None, :]).any(axis=2)
    order = np.argsort(~ok, axis=1, kind="stable")  # the kept picks first, still best first
    held.picks = np.take_along_axis(np.where(ok, held.picks, NONE), order, axis=1)
    held.pick_scores = np.take_along_axis(np.where(ok, held.pick_scores, -np.inf), order, axis=1)


def admit_new(
    positions: np.ndarray,
    scores: np.ndarray,
    held: Held,
    *,
    skip: np.ndarray | None = None,
    by_score: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lists with the held-back picks let in where the model ranked them inside its top k,
    and the ``bool [n, k]`` flags of the low-evidence titles they hold.

    A pick comes in when it would have ranked in the top k among the trusted list and the
    picks before it; it takes the place of the trusted list's last entries. ``by_score`` sorts
    the result by score (plain lists); otherwise picks follow the trusted entries (a franchise
    order or a spread is kept). Rows in ``skip`` (the fallback's) take no pick."""
    positions, scores = positions.copy(), scores.copy()
    if held.picks is not None and held.picks.shape[1] and held.slots:
        n, k = positions.shape
        picks, pick_scores = held.picks[:, : held.slots], held.pick_scores[:, : held.slots]
        finite = np.isfinite(pick_scores) & (picks >= 0)
        # rank of pick j among the trusted list and picks 0..j-1 (ties by catalog position,
        # as top_k breaks them)
        t, s = scores[:, None, :], pick_scores[:, :, None]
        above = ((t > s) | ((t == s) & (positions[:, None, :] < picks[:, :, None]))).sum(axis=2)
        admitted = finite & (above + np.arange(finite.shape[1]) < k)
        if skip is not None:
            admitted &= ~np.asarray(skip, bool)[:, None]
        m = admitted.sum(axis=1)
        filled = (positions >= 0).sum(axis=1)
        for i in np.flatnonzero(m):
            keep, j = min(filled[i], k - m[i]), m[i]
            row_p = np.full(k, NONE, np.int64)
            row_s = np.full(k, -np.inf, np.float32)
            row_p[:keep], row_s[:keep] = positions[i, :keep], scores[i, :keep]
            row_p[keep : keep + j] = picks[i, :j]
            row_s[keep : keep + j] = pick_scores[i, :j]
            positions[i], scores[i] = row_p, row_s
            if by_score:
                order = np.lexsort((positions[i], -scores[i]))  # ties: as top_k breaks them
                positions[i], scores[i] = positions[i, order], scores[i, order]
    new = (positions >= 0) & held.low[np.maximum(positions, 0)]
    return positions, scores, new
