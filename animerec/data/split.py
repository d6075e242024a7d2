"""The fixed, seeded evaluation split (DESIGN §5): test users, and their held-out ratings.

It lives with the data, below every layer that learns, because labels, fine-tuning, tuning and
the hybrid's weight search all carve their users from it (none may import the evaluation).
Everything that learns — labels, fine-tuning, fitting, tuning — sees ``Split.train`` (and, for
test users, only ``Split.history``); ``Split.heldout`` is read by metrics alone.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from animerec.data.ratings import Ratings

__all__ = [
    "DISLIKED",
    "HOLDOUT",
    "LIKED",
    "SEED",
    "Protocol",
    "Split",
    "likes_split",
    "parse_protocols",
    "protocol_split",
    "validation_split",
    "without_dislikes",
]

SEED = 42
LIKED = 10
"""The rating a liked title is given with under the few-likes protocol."""
DISLIKED = 1
"""The rating a disliked title is given with."""
FAN = 9
"""A rating at or above this makes a title a favourite (drawn as a like) and relevant."""
LOW = 5
"""A rating at or below this makes a title a candidate dislike."""


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


def likes_split(split: Split, n_likes: int, *, seed: int = SEED, dislikes: int = 0) -> Split:
    """The few-likes protocol over a hold-out split: the same training users and ratings; for
    each test user, ``n_likes`` titles drawn from their ratings ≥ 9 (history and held-out part
    together) are the history, given as liked (rating 10), and every other rating is held out
    (so the relevant titles are the user's other ratings ≥ 9, and the detractor rate can be read).

    Users need ≥ ``n_likes + 1`` ratings ≥ 9. The likes are the first ``n_likes`` of the user's
    favourites (sorted by anime id) permuted with ``default_rng([seed, user, n_likes])``. With
    ``dislikes`` > 0 that many titles drawn from the user's ratings ≤ 5 (with
    ``default_rng([seed, user, 0])``: the same title at every N) join the history as disliked
    (rating 1); users without enough such ratings are *dropped*, so that
    :func:`without_dislikes` of the result is the same users with the likes alone — a paired
    comparison. The disliked title is held out of neither (it is in no answer), so giving it
    cannot win by merely hiding it.
    """
    if n_likes < 1:
        raise ValueError(f"n_likes must be >= 1, got {n_likes}")
    if dislikes < 0:
        raise ValueError(f"dislikes must be >= 0, got {dislikes}")
    allr = Ratings(
        np.concatenate([split.history.user_id, split.heldout.user_id]),
        np.concatenate([split.history.anime_id, split.heldout.anime_id]),
        np.concatenate([split.history.rating, split.heldout.rating]),
    )
    order = np.lexsort((allr.anime_id, allr.user_id))
    u_sorted = allr.user_id[order]
    starts = np.searchsorted(u_sorted, split.test_users, side="left")
    ends = np.searchsorted(u_sorted, split.test_users, side="right")
    users, h_anime, h_rating, held = [], [], [], []
    for user, s, e in zip(split.test_users, starts, ends, strict=True):
        rows = order[s:e]  # this user's rows, sorted by anime id
        r = allr.rating[rows]
        fans, low = rows[r >= FAN], rows[r <= LOW]
        if len(fans) < n_likes + 1 or len(low) < dislikes:
            continue
        liked = np.random.default_rng([seed, int(user), n_likes]).permutation(fans)[:n_likes]
        bad = np.random.default_rng([seed, int(user), 0]).permutation(low)[:dislikes]
        given = np.concatenate([liked, bad])
        users.append(int(user))
        h_anime.append(allr.anime_id[given])
        h_rating.append(np.r_[np.full(len(liked), LIKED), np.full(len(bad), DISLIKED)])
        held.append(np.setdiff1d(rows, given))
    test = np.asarray(users, dtype=np.int64)
    n_given = [len(a) for a in h_anime]
    cat = lambda parts, dt: np.concatenate(parts).astype(dt) if parts else np.zeros(0, dt)  # noqa: E731
    history = Ratings(
        np.repeat(test, n_given), cat(h_anime, np.int64), cat(h_rating, allr.rating.dtype)
    )
    held_rows = np.sort(cat(held, np.int64))
    return Split(
        train_users=split.train_users,
        test_users=test,
        train=split.train,
        history=history.take(np.lexsort((history.anime_id, history.user_id))),
        heldout=allr.take(held_rows),
    )


def without_dislikes(split: Split) -> Split:
    """The same split with the disliked titles taken out of the history (and still out of the
    answers): the paired "without the dislike" side of :func:`likes_split`'s ``dislikes``."""
    return replace(split, history=split.history.take(split.history.rating > DISLIKED))


@dataclass(frozen=True)
class Protocol:
    """How a test (or validation) user's input is given: the DESIGN §5 hold-out
    (``n_likes == 0``), or ``n_likes`` favourites plus ``dislikes`` disliked titles."""

    n_likes: int = 0
    dislikes: int = 0

    @property
    def name(self) -> str:
        if self.n_likes == 0:
            return "holdout"
        return f"likes{self.n_likes}" + (f"+d{self.dislikes}" if self.dislikes else "")

    def apply(self, split: Split, *, seed: int = SEED) -> Split:
        """This protocol's split of a hold-out ``split`` (the hold-out itself for ``holdout``)."""
        if self.n_likes == 0:
            return split
        return likes_split(split, self.n_likes, seed=seed, dislikes=self.dislikes)

    @classmethod
    def parse(cls, name: str) -> Protocol:
        """The protocol named ``holdout``, ``likesN`` or ``likesN+dM``."""
        text = name.strip()
        if text == "holdout":
            return cls()
        head, _, tail = text.partition("+d")
        if head.startswith("likes") and head[5:].isdigit() and (not tail or tail.isdigit()):
            out = cls(int(head[5:]), int(tail or 0))
            if out.n_likes >= 1:
                return out
        raise ValueError(f"unknown protocol {name!r}: use holdout, likesN or likesN+dM")


HOLDOUT = Protocol()


def parse_protocols(names: list[str], likes: list[int], dislikes: int = 0) -> list[Protocol]:
    """The protocols ``animerec evaluate --protocol holdout,likes --likes 1,3 --dislikes 1``
    means: ``holdout``, then for each N ``likesN`` and (with dislikes) ``likesN+dM``."""
    out: list[Protocol] = []
    for name in names:
        if name == "likes":
            for n in likes:
                if n < 1:
                    raise ValueError(f"--likes takes numbers >= 1, got {n}")
                out.append(Protocol(n))
                if dislikes:
                    out.append(Protocol(n, dislikes))
        else:
            out.append(Protocol.parse(name))
    return list(dict.fromkeys(out))
