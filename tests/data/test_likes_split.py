"""The few-likes protocol split: known answers on a hand-built split, and the real sample."""

from __future__ import annotations

import numpy as np
import pytest

from animerec.data.ratings import Ratings
from animerec.data.split import (
    DISLIKED,
    LIKED,
    Protocol,
    Split,
    likes_split,
    parse_protocols,
    protocol_split,
    without_dislikes,
)


def _hand_split() -> Split:
    """User 1: four 9-10s, one 3 (eligible for 3 likes + a dislike); user 2: two 9s, no low
    rating (eligible for 1 like only); user 3 a training user."""
    hist = Ratings.from_arrays([1, 1, 1, 2, 2], [10, 11, 12, 20, 21], [9, 10, 3, 9, 7])
    held = Ratings.from_arrays([1, 1, 1, 2], [13, 14, 15, 22], [9, 6, 10, 9])
    train = Ratings.from_arrays([3, 3], [10, 20], [8, 9])
    return Split(np.array([3]), np.array([1, 2]), train, hist, held)


def _pairs(r: Ratings) -> set[tuple[int, int, int]]:
    return set(zip(r.user_id.tolist(), r.anime_id.tolist(), r.rating.tolist(), strict=True))


def test_likes_known_answer() -> None:
    base = _hand_split()
    s = likes_split(base, 3, seed=42)
    assert s.test_users.tolist() == [1]  # user 2 has two ratings >= 9 only (< 3 + 1)
    assert s.train is base.train and s.train_users is base.train_users
    given = s.history.anime_id.tolist()
    assert len(given) == 3 and set(given) <= {10, 11, 13, 15}
    assert (s.history.rating == LIKED).all()
    fans = np.array([10, 11, 13, 15])
    perm = np.random.default_rng([42, 1, 3]).permutation(fans)  # the documented draw
    assert sorted(given) == sorted(perm[:3].tolist())
    # every other rating of user 1 is held out, whatever its value
    assert set(s.heldout.anime_id.tolist()) == {10, 11, 12, 13, 14, 15} - set(given)
    one = likes_split(base, 1, seed=42)
    assert one.test_users.tolist() == [1, 2]
    relevant = one.heldout.take(one.heldout.rating >= 9)
    # user 2: the one liked is one of {20, 22}, the other is the only relevant answer
    u2 = relevant.anime_id[relevant.user_id == 2].tolist()
    assert len(u2) == 1 and set(u2) | set(one.history.anime_id[one.history.user_id == 2]) == {
        20,
        22,
    }


def test_dislike_is_given_and_out_of_every_answer() -> None:
    base = _hand_split()
    d = likes_split(base, 1, seed=42, dislikes=1)
    assert d.test_users.tolist() == [1]  # user 2 has no rating <= 5: dropped
    h = d.history
    assert sorted(h.rating.tolist()) == [DISLIKED, LIKED]
    assert h.anime_id[h.rating == DISLIKED].tolist() == [12]
    assert 12 not in d.heldout.anime_id.tolist()
    w = without_dislikes(d)
    assert w.test_users.tolist() == [1]
    assert h.anime_id[h.rating == LIKED].tolist() == w.history.anime_id.tolist()
    assert _pairs(w.heldout) == _pairs(d.heldout)
    # the likes are the same draw as the protocol without dislikes (paired at equal N)
    plain = likes_split(base, 1, seed=42)
    assert (
        w.history.anime_id.tolist() == plain.history.anime_id[plain.history.user_id == 1].tolist()
    )


def test_protocol_names_parse_back() -> None:
    ps = parse_protocols(["holdout", "likes"], [1, 3], dislikes=1)
    assert [p.name for p in ps] == ["holdout", "likes1", "likes1+d1", "likes3", "likes3+d1"]
    assert all(Protocol.parse(p.name) == p for p in ps)
    with pytest.raises(ValueError, match="unknown protocol"):
        Protocol.parse("likes0")


def test_likes_split_on_the_sample(sample_ratings) -> None:
    base = protocol_split(sample_ratings)
    every = _pairs(base.history) | _pairs(base.heldout)
    for n in (1, 3, 10):
        s = likes_split(base, n)
        assert np.isin(s.test_users, base.test_users).all() and len(s.test_users) > 50
        assert (np.bincount(s.history.user_id)[s.test_users] == n).all()
        # nothing invented, nothing lost: history (as 10s) + held-out = the user's ratings
        held, hist = _pairs(s.heldout), _pairs(s.history)
        assert not {(u, a) for u, a, _ in held} & {(u, a) for u, a, _ in hist}
        mine = {t for t in every if t[0] in set(s.test_users.tolist())}
        liked = {(u, a) for u, a, _ in hist}
        assert held == {t for t in mine if (t[0], t[1]) not in liked}
        assert all(r >= 9 for u, a, r in mine if (u, a) in liked)
        assert (s.heldout.rating >= 9).sum() >= len(s.test_users)  # >= 1 relevant each
    d = likes_split(base, 3, dislikes=1)
    assert len(d.test_users) < len(likes_split(base, 3).test_users)
    assert (np.bincount(d.history.user_id, d.history.rating == DISLIKED)[d.test_users] == 1).all()
