"""Pair labels: NPS mapping, agreement/Jaccard worked out by hand, blocks, split, the real sample."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from animerec.data.ratings import Ratings
from animerec.data.split import protocol_split
from animerec.labels import (
    COLUMNS,
    LabelSettings,
    label_summary,
    nps,
    nps_matrices,
    pair_counts,
    pair_labels,
    split_pairs,
)

# Six users, five anime. NPS: P = 9–10 (promoter), 0 = 7–8 (passive), D = ≤ 6 (detractor).
#
#        10      20      30      40      50
#  u1   10 P     9 P     3 D     8 0    10 P
#  u2    9 P    10 P     9 P     2 D    10 P
#  u3    4 D     9 P     5 D    10 P     3 D
#  u4    2 D     1 D     7 0     9 P     –
#  u5   10 P     6 D     –       9 P     9 P
#  u6   10 P     9 P     9 P     1 D     9 P
#
# Promoter sets: P10 = {1,2,5,6}, P20 = {1,2,3,6}, P30 = {2,6}, P40 = {3,4,5}, P50 = {1,2,5,6}.
HAND = {
    1: {10: 10, 20: 9, 30: 3, 40: 8, 50: 10},
    2: {10: 9, 20: 10, 30: 9, 40: 2, 50: 10},
    3: {10: 4, 20: 9, 30: 5, 40: 10, 50: 3},
    4: {10: 2, 20: 1, 30: 7, 40: 9},
    5: {10: 10, 20: 6, 40: 9, 50: 9},
    6: {10: 10, 20: 9, 30: 9, 40: 1, 50: 9},
}
# (a, b): co-raters (both non-zero NPS), promoted both, promoted one & detracted the other,
#         score, Jaccard — worked out by hand from the table above.
EXPECTED = {
    # co-raters u1..u6: PP PP DP DD PD PP → 3 agree, 2 disagree of 6; 0.5 > 0.33 → +0.5
    # J: P10 ∩ P20 = {1,2,6}, ∪ = {1,2,3,5,6} → 3/5
    (10, 20): (6, 3, 2, 3 / 6, 3 / 5),
    # u4 passive on 30, u5 never rated 30 → u1 PD, u2 PP, u3 DD, u6 PP → 2/4 vs 1/4 → +0.5
    # J: {2,6} / {1,2,5,6} → 2/4
    (10, 30): (4, 2, 1, 2 / 4, 2 / 4),
    # u1 passive on 40 → u2 PD, u3 DP, u4 DP, u5 PP, u6 PD → 1/5 vs 4/5 → −0.8
    # J: {5} / {1,2,3,4,5,6} → 1/6
    (10, 40): (5, 1, 4, -4 / 5, 1 / 6),
    # u1 PP, u2 PP, u3 DD, u5 PP, u6 PP (u4 never rated 50) → 4/5 vs 0 → +0.8
    # J: P10 = P50 → 4/4
    (10, 50): (5, 4, 0, 4 / 5, 4 / 4),
    # u1 PD, u2 PP, u3 PD, u6 PP → 2/4 vs 2/4: not greater → −0.5
    # J: {2,6} / {1,2,3,6} → 2/4
    (20, 30): (4, 2, 2, -2 / 4, 2 / 4),
    # u2 PD, u3 PP, u4 DP, u5 DP, u6 PD → 1/5 vs 4/5 → −0.8;  J: {3} / {1..6} → 1/6
    (20, 40): (5, 1, 4, -4 / 5, 1 / 6),
    # u1 PP, u2 PP, u3 PD, u5 DP, u6 PP → 3/5 vs 2/5 → +0.6;  J: {1,2,6} / {1,2,3,5,6} → 3/5
    (20, 50): (5, 3, 2, 3 / 5, 3 / 5),
    # u2 PD, u3 DP, u6 PD (u1, u4 passive; u5 never rated 30) → 0 vs 3/3 → −1;  J: 0/5
    (30, 40): (3, 0, 3, -3 / 3, 0 / 5),
    # u1 DP, u2 PP, u3 DD, u6 PP → 2/4 vs 1/4 → +0.5;  J: {2,6} / {1,2,5,6} → 2/4
    (30, 50): (4, 2, 1, 2 / 4, 2 / 4),
    # u2 DP, u3 PD, u5 PP, u6 DP (u1 passive, u4 never rated 50) → 1/4 vs 3/4 → −0.75
    # J: {5} / {1,2,3,4,5,6} → 1/6
    (40, 50): (4, 1, 3, -3 / 4, 1 / 6),
}


def ratings_of(table: dict[int, dict[int, int]]) -> Ratings:
    rows = [(u, a, r) for u, row in table.items() for a, r in row.items()]
    u, a, r = zip(*rows, strict=True)
    return Ratings.from_arrays(u, a, r)


def random_ratings(n_users: int = 120, n_items: int = 40, density: float = 0.4, seed: int = 0):
    rng = np.random.default_rng(seed)
    mask = rng.random((n_users, n_items)) < density
    u, i = np.nonzero(mask)
    return Ratings.from_arrays(u + 1000, i * 7 + 3, rng.integers(1, 11, size=len(u)))


@pytest.fixture
def hand() -> Ratings:
    return ratings_of(HAND)


def test_nps_maps_ratings_to_promoter_passive_detractor() -> None:
    assert nps(np.arange(1, 11)).tolist() == [-1] * 6 + [0, 0] + [1, 1]
    assert nps(np.array([9], np.int8)).dtype == np.int8


def test_hand_worked_pairs(hand: Ratings) -> None:
    got = pair_labels(hand, hand.users, LabelSettings(min_corated=1))
    assert list(got.columns) == COLUMNS
    assert list(zip(got.anime_a, got.anime_b, strict=True)) == sorted(EXPECTED)
    for row in got.itertuples():
        n, n_agree, n_dis, score, jaccard = EXPECTED[(row.anime_a, row.anime_b)]
        assert (row.n_corated, row.n_agree, row.n_disagree) == (n, n_agree, n_dis)
        assert row.agree == n_agree / n and row.disagree == n_dis / n
        assert row.score == score, (row.anime_a, row.anime_b)
        assert row.jaccard == jaccard, (row.anime_a, row.anime_b)


def test_labels_follow_the_threshold(hand: Ratings) -> None:
    got = pair_labels(hand, hand.users, LabelSettings(min_corated=1, threshold=0.7))
    labels = {(a, b): lab for a, b, lab in zip(got.anime_a, got.anime_b, got.label, strict=True)}
    assert {p for p, lab in labels.items() if lab == 1} == {(10, 50)}
    assert {p for p, lab in labels.items() if lab == -1} == {(10, 40), (20, 40), (30, 40), (40, 50)}
    # the threshold is inclusive on both sides: ±0.5 become labels at 0.5
    got = pair_labels(hand, hand.users, LabelSettings(min_corated=1, threshold=0.5))
    labels = {(a, b): lab for a, b, lab in zip(got.anime_a, got.anime_b, got.label, strict=True)}
    assert labels[(10, 20)] == 1 and labels[(20, 30)] == -1
    s = label_summary(got, LabelSettings(min_corated=1, threshold=0.5))
    assert (s["pairs"], s["positive"], s["negative"], s["neutral"]) == (10, 5, 5, 0)


def test_min_corated_keeps_only_pairs_with_enough_co_raters(hand: Ratings) -> None:
    got = pair_labels(hand, hand.users, LabelSettings(min_corated=5))
    keep = {p for p, e in EXPECTED.items() if e[0] >= 5}
    assert set(zip(got.anime_a, got.anime_b, strict=True)) == keep
    assert keep == {(10, 20), (10, 40), (10, 50), (20, 40), (20, 50)}
    assert pair_labels(hand, hand.users, LabelSettings(min_corated=7)).empty


def test_only_the_given_users_count(hand: Ratings) -> None:
    # Without u6: (10, 50) has co-raters u1 PP, u2 PP, u3 DD, u5 PP → 3/4; J: {1,2,5}/{1,2,5} = 1
    # and (10, 40) has u2 PD, u3 DP, u4 DP, u5 PP → 3/4 disagree; J: {5} / {1,2,3,4,5} = 1/5
    got = pair_labels(hand, [1, 2, 3, 4, 5], LabelSettings(min_corated=1)).set_index(
        ["anime_a", "anime_b"]
    )
    assert got.loc[(10, 50), ["n_corated", "n_agree", "score", "jaccard"]].tolist() == [
        4,
        3,
        3 / 4,
        1.0,
    ]
    assert got.loc[(10, 40), ["n_corated", "n_disagree", "score", "jaccard"]].tolist() == [
        4,
        3,
        -3 / 4,
        1 / 5,
    ]
    # a user with no ratings, or users unknown to the ratings, change nothing
    same = pair_labels(hand, [1, 2, 3, 4, 5, 99], LabelSettings(min_corated=1))
    pd.testing.assert_frame_equal(same.set_index(["anime_a", "anime_b"]), got)


def test_no_promoters_gives_jaccard_zero_and_no_negative_zero() -> None:
    # both anime detracted by everyone: agree = disagree = 0 → score 0 (not −0.0), Jaccard 0/0 → 0
    r = Ratings.from_arrays([1, 1, 2, 2], [5, 6, 5, 6], [1, 2, 3, 4])
    got = pair_labels(r, r.users, LabelSettings(min_corated=2))
    assert len(got) == 1
    row = got.iloc[0]
    assert (row.n_corated, row.n_agree, row.n_disagree, row.label) == (2, 0, 0, 0)
    assert row.score == 0.0 and not np.signbit(row.score)
    assert row.jaccard == 0.0


def test_counts_equal_dense_promoter_detractor_products() -> None:
    r = random_ratings()
    P, D, items = nps_matrices(r, r.users)
    P, D = P.toarray(), D.toarray()
    N = P + D
    C, A, X = N.T @ N, P.T @ P, P.T @ D + D.T @ P
    n_p = P.sum(axis=0)
    c = pair_counts(r, r.users, min_corated=3)
    ia, ib = np.searchsorted(items, c.anime_a), np.searchsorted(items, c.anime_b)
    np.testing.assert_array_equal(c.n_corated, C[ia, ib])
    np.testing.assert_array_equal(c.n_agree, A[ia, ib])
    np.testing.assert_array_equal(c.n_disagree, X[ia, ib])
    np.testing.assert_array_equal(c.n_promoters_a, n_p[ia])
    np.testing.assert_array_equal(c.n_promoters_b, n_p[ib])
    iu = np.triu_indices(len(items), 1)
    assert len(c) == int((C[iu] >= 3).sum()) > 100


def test_block_size_does_not_change_the_result() -> None:
    r = random_ratings(seed=1)
    s = LabelSettings(min_corated=4)
    one = pair_labels(r, r.users, s, block_size=1)
    big = pair_labels(r, r.users, s, block_size=10_000)
    odd = pair_labels(r, r.users, s, block_size=7)
    assert len(one) > 100
    pd.testing.assert_frame_equal(one, big)
    pd.testing.assert_frame_equal(one, odd)


def test_split_is_seeded_deterministic_and_per_pair() -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 50_000, 20_000)
    b = a + rng.integers(1, 50_000, 20_000)
    s1 = np.asarray(split_pairs(a, b, 0.1, seed=42))
    assert (s1 == np.asarray(split_pairs(a, b, 0.1, seed=42))).all()
    assert set(s1) == {"train", "val"}
    assert abs((s1 == "val").mean() - 0.1) < 0.01
    s2 = np.asarray(split_pairs(a, b, 0.1, seed=7))
    assert (s1 != s2).mean() > 0.1  # a different seed moves pairs
    # a pair's side does not depend on which other pairs exist
    assert (np.asarray(split_pairs(a[::3], b[::3], 0.1, seed=42)) == s1[::3]).all()
    assert (np.asarray(split_pairs(a, b, 0.0, seed=42)) == "train").all()


def test_settings_and_inputs_are_validated(hand: Ratings) -> None:
    for bad in ({"min_corated": 0}, {"threshold": 0.0}, {"threshold": 1.5}, {"val_frac": 1.0}):
        with pytest.raises(ValueError):
            LabelSettings(**bad)
    with pytest.raises(ValueError, match="block_size"):
        pair_counts(hand, hand.users, 1, block_size=0)
    dup = Ratings.from_arrays([1, 1, 1, 2, 2], [5, 5, 6, 5, 6], [9, 10, 9, 9, 9])
    with pytest.raises(ValueError, match="duplicate"):
        pair_counts(dup, dup.users, 1)


def test_real_sample_training_users(sample_ratings: Ratings) -> None:
    """The figures an independent implementation found on the sample's 1,019 training users."""
    split = protocol_split(sample_ratings)
    assert len(split.train_users) == 1019
    got = pair_labels(sample_ratings, split.train_users)
    s = label_summary(got, LabelSettings())
    assert (s["positive"], s["negative"], s["anime_labelled"]) == (14_564, 494, 708)
    assert (got.n_corated >= 20).all()
    assert (got.anime_a < got.anime_b).all()
    assert got.jaccard.between(0, 1).all()
    assert 0.08 < (got.split == "val").mean() < 0.12
