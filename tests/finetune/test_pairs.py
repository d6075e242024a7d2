"""Training-pair recipes on hand-built ratings whose right answer is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from animerec.data.ratings import Ratings
from animerec.data.split import protocol_split
from animerec.errors import AnimerecError
from animerec.finetune import PairSettings
from animerec.finetune.negatives import add_mined_negatives
from animerec.finetune.pairs import build_pairs
from animerec.finetune.training_pairs import NO_ANIME, TrainingPairs, cap_pairs
from animerec.labels import LabelSettings, pair_labels


def likes(groups: dict[int, list[int]], rating: int = 10) -> Ratings:
    """Ratings from {anime id: [users who gave it ``rating``]}."""
    rows = [(u, a, rating) for a, users in groups.items() for u in users]
    return Ratings.from_arrays(*zip(*rows, strict=True))


def pair_set(p: TrainingPairs) -> set[tuple[int, int]]:
    return {
        (min(a, b), max(a, b)) for a, b in zip(p.anchor.tolist(), p.other.tolist(), strict=True)
    }


# --- book ----------------------------------------------------------------------------------------
def test_book_recipe_balances_positives_and_negatives(taste):
    ratings, _ = taste
    users = ratings.users
    p = build_pairs(ratings, users, PairSettings(recipe="book", min_corated=5), for_loss="cosine")
    labels = pair_labels(ratings, users, LabelSettings(min_corated=5))
    train = labels[(labels["split"] == "train") & (labels["label"] != 0)]
    n_pos, n_neg = int((train["label"] > 0).sum()), int((train["label"] < 0).sum())
    assert n_pos != n_neg and min(n_pos, n_neg) > 10
    assert (p.target == 1).sum() == (p.target == -1).sum() == min(n_pos, n_neg)
    assert set(np.unique(p.target)) == {-1.0, 1.0}
    # every row is a labelled pair of the train split, with its label as target
    got = pd.DataFrame({"anime_a": p.anchor, "anime_b": p.other, "t": p.target})
    merged = got.merge(train, on=["anime_a", "anime_b"], how="left")
    assert merged["label"].notna().all()
    assert (merged["t"] == merged["label"]).all()


def test_book_recipe_options(taste):
    ratings, _ = taste
    users = ratings.users
    zero = build_pairs(
        ratings,
        users,
        PairSettings(recipe="book", min_corated=5, negative_target=0.0),
        for_loss="cosine",
    )
    assert set(np.unique(zero.target)) == {0.0, 1.0}
    full = build_pairs(
        ratings, users, PairSettings(recipe="book", min_corated=5, balance=False), for_loss="cosent"
    )
    labels = pair_labels(ratings, users, LabelSettings(min_corated=5))
    train = labels[labels["split"] == "train"]
    assert (full.target == 1).sum() == (train["label"] == 1).sum()
    assert (full.target == -1).sum() == (train["label"] == -1).sum()
    # MNRL learns from positives only, so it keeps all of them
    mnrl = build_pairs(ratings, users, PairSettings(recipe="book", min_corated=5), for_loss="mnrl")
    assert (mnrl.target == 1).all() and len(mnrl) == (full.target == 1).sum()


# --- neighbour recipes -----------------------------------------------------------------------------
TWO_CLUSTERS = {
    1: [0, 1, 2, 3, 4, 5],
    2: [0, 1, 2, 3, 4, 5],
    3: [6, 7, 8, 9, 10, 11],
    4: [6, 7, 8, 9, 10],
    5: [0, 6],  # too few raters to be an anchor, but a candidate partner
}


def test_ease_teacher_pairs_are_each_anchors_top_neighbours():
    ratings = likes(TWO_CLUSTERS)
    s = PairSettings(recipe="ease", neighbours=1, min_raters=3, min_partner_raters=1, ease_l2=1.0)
    p = build_pairs(ratings, ratings.users, s, for_loss="mnrl")
    assert pair_set(p) == {(1, 2), (3, 4)}  # 1↔2 and 3↔4 found from both ends, kept once
    assert (p.rank == 0).all() and (p.target == 1).all()
    assert p.info["anchors"] == 4


def test_ease_teacher_matches_closed_form():
    """Top-2 neighbours equal those of B = I − P·diag(1/diag P), P = (XᵀX + λI)⁻¹."""
    rng = np.random.default_rng(3)
    x = (rng.random((60, 12)) < 0.35).astype(float)
    users, items = np.nonzero(x)
    ratings = Ratings.from_arrays(users, items + 100, np.full(len(users), 9))
    s = PairSettings(recipe="ease", neighbours=2, min_raters=1, min_partner_raters=1, ease_l2=5.0)
    got = build_pairs(ratings, ratings.users, s, for_loss="mnrl")
    P = np.linalg.inv(x.T @ x + 5.0 * np.eye(12))
    B = P / -np.diag(P)
    np.fill_diagonal(B, -np.inf)
    want = set()
    for i in range(12):
        for j in np.argsort(-B[i], kind="stable")[:2]:
            if B[i, j] > 0:
                want.add((min(i, j) + 100, max(i, j) + 100))
    assert pair_set(got) == want


def test_jaccard_and_lift_pick_by_shared_fans():
    ratings = likes({1: [0, 1, 2, 3], 2: [0, 1, 2], 3: [0, 4, 5, 6, 7, 8]})
    for recipe in ("jaccard", "lift"):
        s = PairSettings(recipe=recipe, neighbours=1, min_raters=1, min_partner_raters=1)
        p = build_pairs(ratings, ratings.users, s, for_loss="mnrl")
        # J(1,2)=3/4, J(2,3)=1/8 > J(1,3)=1/9; lift(2,3)=0.5 > lift(1,3)=0.375
        assert pair_set(p) == {(1, 2), (2, 3)}, recipe
        row = np.flatnonzero(p.anchor == 3)
        assert p.other[row].tolist() == [2]


def test_pair_losses_get_random_negatives_that_are_not_positives(taste):
    ratings, _ = taste
    s = PairSettings(recipe="ease", min_raters=5, neighbours=2)
    p = build_pairs(ratings, ratings.users, s, for_loss="cosent")
    pos, neg = p.target == 1, p.target == 0
    assert pos.sum() == neg.sum() > 0
    positives = pair_set(p.take(np.flatnonzero(pos)))
    negatives = pair_set(p.take(np.flatnonzero(neg)))
    assert not positives & negatives
    assert (p.anchor != p.other).all()


def test_teacher_neighbours_follow_the_taste_groups(taste):
    ratings, _ = taste
    # 7 is the other group's polite passive here, so a like is ≥ 9
    s = PairSettings(recipe="ease", min_raters=5, min_rating=9)
    p = build_pairs(ratings, ratings.users, s, for_loss="mnrl")
    same_group = (p.anchor % 2) == (p.other % 2)
    assert same_group.mean() > 0.9


# --- hard negatives ---------------------------------------------------------------------------------
def test_detracted_hard_negatives_come_from_split_pairs(taste):
    ratings, _ = taste
    s = PairSettings(recipe="ease", min_raters=5, min_corated=5, hard_negatives="detracted")
    p = build_pairs(ratings, ratings.users, s, for_loss="mnrl")
    assert (p.negative != NO_ANIME).all()
    # detracted partners are cross-group (split) anime
    assert ((p.negative % 2) != (p.anchor % 2)).mean() > 0.9


def test_rare_negatives_are_anime_few_users_rated():
    popular = {a: list(range(20)) for a in (1, 2, 3)}  # 20 fans each: the anchors
    rare = {10: [0], 11: [1, 2], 12: list(range(12))}  # 1, 2 and 12 raters
    ratings = likes(popular | rare)
    s = PairSettings(recipe="jaccard", min_raters=10, hard_negatives="rare", rare_max_raters=2)
    p = build_pairs(ratings, ratings.users, s, for_loss="mnrl")
    assert len(p) > 0
    assert set(p.negative.tolist()) <= {10, 11}  # 12 has too many raters, 1-3 are anchors
    assert len(set(p.negative.tolist())) == 2  # drawn at random, not one fixed anime
    none = PairSettings(recipe="jaccard", hard_negatives="rare", rare_max_raters=0)
    with pytest.raises(AnimerecError, match="rare"):
        build_pairs(ratings, ratings.users, none, for_loss="mnrl")


def test_mined_negatives_are_close_for_the_encoder_but_not_co_liked():
    pairs = TrainingPairs(
        anchor=np.array([1, 1]),
        other=np.array([2, 3]),
        target=np.ones(2, np.float32),
        negative=np.full(2, NO_ANIME),
        rank=np.zeros(2, np.int64),
    )
    ids = np.array([1, 2, 3, 4, 5])
    vec = np.array([[1, 0], [0.99, 0.1], [0.98, 0.2], [0.97, 0.24], [0, 1]], np.float32)
    vec /= np.linalg.norm(vec, axis=1, keepdims=True)
    out = add_mined_negatives(pairs, (ids, vec), {(1, 2), (1, 3)}, pool_size=3, seed=0)
    assert out.negative.tolist() == [4, 4]  # 2 and 3 are positives of 1; 5 is not near


def test_mined_negatives_need_vectors(taste):
    ratings, _ = taste
    with pytest.raises(AnimerecError, match="needs the base encoder"):
        build_pairs(
            ratings,
            ratings.users,
            PairSettings(recipe="ease", min_raters=5, hard_negatives="mined"),
        )


# --- users, caps, settings -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("recipe", "loss"),
    [
        ("book", "cosine"),
        ("book", "mnrl"),
        ("ease", "mnrl"),
        ("jaccard", "cosent"),
        ("lift", "mnrl"),
    ],
)
def test_evaluation_users_cannot_change_the_training_pairs(taste, recipe, loss):
    ratings, _ = taste
    split = protocol_split(ratings)
    s = PairSettings(recipe=recipe, min_corated=5, min_raters=5)
    before = build_pairs(ratings, split.train_users, s, for_loss=loss).frame()
    test = np.isin(ratings.user_id, split.test_users)
    tampered_rating = ratings.rating.copy()
    tampered_rating[test] = 10  # evaluation users now promote everything they rated
    tampered = Ratings(ratings.user_id, ratings.anime_id, tampered_rating)
    after = build_pairs(tampered, split.train_users, s, for_loss=loss).frame()
    pd.testing.assert_frame_equal(before, after)
    try:  # …while the same recipe over all users does change (or finds nothing left to learn)
        everyone = build_pairs(tampered, ratings.users, s, for_loss=loss).frame()
    except AnimerecError:
        everyone = None
    assert everyone is None or not everyone.equals(before)


def test_cap_keeps_the_nearest_neighbours_first():
    n = 10
    pairs = TrainingPairs(
        anchor=np.arange(n),
        other=np.arange(n) + 100,
        target=np.ones(n, np.float32),
        negative=np.full(n, NO_ANIME),
        rank=np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0]),
    )
    capped = cap_pairs(pairs, 4, seed=1)
    assert len(capped) == 4 and (capped.rank == 0).all()
    assert cap_pairs(pairs, 4, seed=1).anchor.tolist() == capped.anchor.tolist()


def test_bad_settings_are_refused():
    with pytest.raises(AnimerecError, match="unknown pair recipe"):
        PairSettings(recipe="vibes")
    with pytest.raises(AnimerecError, match="hard-negative"):
        PairSettings(hard_negatives="some")
    with pytest.raises(AnimerecError, match="no training pairs|has ratings"):
        build_pairs(likes({1: [0]}), np.array([99]), PairSettings())
