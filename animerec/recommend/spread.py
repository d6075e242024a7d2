"""Spreading a batch's recommendations over more of the catalog (aggregate diversity).

Accurate models recommend the same few hundred acclaimed anime to everyone: each list is good,
but the catalog the batch reaches is small (coverage). Exploration (:mod:`.explore`) diversifies
*within* a list and cannot see the others. Spreading works on the batch: every user keeps the
first ``keep`` anime of their own ranking, and each remaining slot is filled, one round per slot
and users in a seeded order, with the candidate from the user's own top ``window`` that the batch
has recommended least so far (ties: the better-ranked one). Every anime a user gets is still one
of their own top ``window`` — the last slots trade a little rank for reach (Adomavicius & Kwon,
"Improving aggregate recommendation diversity using ranking-based techniques", 2012).

The defaults were chosen on validation users carved from the training users: the setting with
the highest coverage that loses at most 2% of the hybrid's NDCG@10 there (docs/benchmarks.md).
A single user's list is unchanged by spreading (nobody else is in the batch).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Spread:
    """How a batch's lists are spread over the catalog."""

    keep: int = 8
    """Slots at the top of each list kept as the model ranked them."""
    window: int = 40
    """The other slots come from the user's top ``window`` (least recommended in the batch first)."""
    seed: int = 0
    """Seeds the order in which users take each round's pick."""

    def __post_init__(self) -> None:
        if self.keep < 0:
            raise ValueError(f"spread keep must be >= 0, got {self.keep}")
        if self.window < 1:
            raise ValueError(f"spread window must be >= 1, got {self.window}")

    def depth(self, k: int) -> int:
        """How many ranked candidates per user :func:`spread` needs for lists of ``k``."""
        return max(self.window, k)


def new_exposure(n_items: int) -> np.ndarray:
    """Zero counts for :func:`spread` over a catalog of ``n_items`` (one spare cell for "none")."""
    return np.zeros(n_items + 1, np.int64)


def spread(
    ranked: np.ndarray,
    k: int,
    settings: Spread,
    n_items: int,
    exposure: np.ndarray | None = None,
) -> np.ndarray:
    """Lists of ``k`` catalog positions per user from their ranked candidates.

    ``ranked``: ``int [n_users, depth]`` catalog positions, best first, ``-1`` where a user has
    no more candidates (at least ``settings.depth(k)`` columns, or all there are). Returns
    ``int [n_users, k]``, ``-1``-padded like the input. ``exposure`` (from :func:`new_exposure`,
    updated in place) carries the counts from block to block when a batch too large to score
    at once is spread in blocks.
    """
    ranked = np.asarray(ranked, dtype=np.int64)
    n_users = len(ranked)
    keep = min(settings.keep, k)
    window = ranked[:, : settings.depth(k)]
    out = np.full((n_users, k), -1, np.int64)
    out[:, :keep] = window[:, :keep]
    if exposure is None:
        exposure = new_exposure(n_items)
    elif len(exposure) != n_items + 1:
        raise ValueError(f"exposure has {len(exposure)} cells, expected {n_items + 1}")
    np.add.at(exposure, out[:, :keep].ravel(), 1)
    pool = window[:, keep:]
    picked = np.zeros(pool.shape, bool)
    open_ = pool >= 0
    order = np.random.default_rng(settings.seed).permutation(n_users)
    for _ in range(keep, k):
        for u in order:
            free = np.flatnonzero(open_[u])
            if len(free):
                j = free[np.argmin(exposure[pool[u, free]])]  # first minimum: the better rank
                picked[u, j], open_[u, j] = True, False
                exposure[pool[u, j]] += 1
    # each user's picks in their own rank order after the kept slots, -1 padding at the end
    for u in range(n_users):
        got = np.concatenate([out[u, :keep][out[u, :keep] >= 0], pool[u][picked[u]]])
        out[u] = -1
        out[u, : len(got)] = got
    return out
