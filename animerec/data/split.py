"""The fixed, seeded evaluation split (DESIGN §5): test users, and their held-out ratings.

It lives with the data, below every layer that learns, because labels, fine-tuning, tuning and
the hybrid's weight search all carve their users from it (none may import the evaluation).
Everything that learns — labels, fine-tuning, fitting, tuning — sees ``Split.train`` (and, for
test users, only ``Split.history``); ``Split.heldout`` is read by metrics alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from animerec.data.ratings import Ratings

__all__ = ["SEED", "Split", "protocol_split", "validation_split"]

SEED = 42


@dataclass(frozen=True)
class Split:
    train_users: np.ndarray
    """Sorted ids of training users (all their ratings are in ``train``)."""
    test_users: np.ndarray
    """Sorted ids of the test users that are evaluated (≥ ``min_ratings`` ratings)."""
    train: Ratings
    history: Ratings
    """The test users' visible input (with rating values)."""
    heldout: Ratings
    """The test users' hidden ratings: the answers."""


def protocol_split(
    ratings: Ratings,
    *,
    seed: int = SEED,
    test_frac: float = 0.3,
    holdout_frac: float = 0.2,
    min_ratings: int = 10,
) -> Split:
    """Split users, then hold out part of each test user's ratings, exactly as DESIGN §5 says.

    1. sorted user ids are permuted with ``default_rng(seed)``; the first ``round(test_frac·N)``
       are test users (kept only with ≥ ``min_ratings`` ratings), the rest training users;
    2. each test user's ratings, sorted by anime id, are permuted with ``default_rng([seed, user])``
       and the first ``max(1, round(holdout_frac·n))`` are held out.
    """
    users = np.unique(ratings.user_id)
    perm = np.random.default_rng(seed).permutation(users)
    n_test = round(test_frac * len(users))
    test_all, train_users = np.sort(perm[:n_test]), np.sort(perm[n_test:])

    order = np.lexsort((ratings.anime_id, ratings.user_id))
    u_sorted = ratings.user_id[order]
    starts = np.searchsorted(u_sorted, test_all, side="left")
    ends = np.searchsorted(u_sorted, test_all, side="right")

    test_users, hist_rows, held_rows = [], [], []
    for user, s, e in zip(test_all, starts, ends, strict=True):
        n = int(e - s)
        if n < min_ratings:
            continue
        rows = order[s:e]  # this user's rows, sorted by anime id
        rows = rows[np.random.default_rng([seed, int(user)]).permutation(n)]
        n_held = max(1, round(holdout_frac * n))
        held_rows.append(rows[:n_held])
        hist_rows.append(rows[n_held:])
        test_users.append(int(user))

    def rows_of(parts: list[np.ndarray]) -> Ratings:
        idx = np.sort(np.concatenate(parts)) if parts else np.zeros(0, np.int64)
        return ratings.take(idx)

    return Split(
        train_users=train_users,
        test_users=np.asarray(test_users, dtype=np.int64),
        train=ratings.for_users(train_users),
        history=rows_of(hist_rows),
        heldout=rows_of(held_rows),
    )


def validation_split(
    train: Ratings, *, seed: int = SEED + 1, frac: float = 0.2, min_ratings: int = 10
) -> Split:
    """Carve validation users out of the *training* users, with the same hold-out procedure.

    Tuning (EASE's λ, ALS's factors, hybrid weights, model selection) uses this split, so it never
    touches the test users' ratings.
    """
    return protocol_split(train, seed=seed, test_frac=frac, min_ratings=min_ratings)
