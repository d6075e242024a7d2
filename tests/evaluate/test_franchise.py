"""The title-prefix franchise proxy."""

from __future__ import annotations

import numpy as np
import pytest

from animerec.evaluate.franchise import FranchiseIndex, franchise_key


@pytest.mark.parametrize(
    ("title", "key"),
    [
        ("Cowboy Bebop: Tengoku no Tobira", "cowboy bebop"),
        ("Shingeki no Kyojin Season 3 Part 2", "shingeki no kyojin"),
        ("Haikyuu!! Second Season", "haikyuu"),
        ("Gintama°", "gintama"),
        ("Sword Art Online II", "sword art online"),
        (
            "Re:Zero kara Hajimeru Isekai Seikatsu 2nd Season",
            "re zero kara hajimeru isekai seikatsu",
        ),
        ("Hunter x Hunter (2011)", "hunter x hunter"),
        ("Pokémon", "pokemon"),
        ("", ""),
        (None, ""),
    ],
)
def test_franchise_key(title: str | None, key: str) -> None:
    assert franchise_key(title) == key


def test_shares_franchise() -> None:
    names = [
        "Naruto",  # 0
        "Naruto: Shippuuden",  # 1
        "Naruto Shippuuden Movie",  # 2
        "Kimi no Na wa.",  # 3
        "Kimi ni Todoke",  # 4
        "K",  # 5
        "K-On!",  # 6
        "Monster",  # 7
        "Gintama'",  # 8
        "Gintama.",  # 9
    ]
    idx = FranchiseIndex(names)
    hist = idx.history_sets(np.array([0, 3, 5]))
    assert idx.shares(1, hist)  # equal keys after ": "
    assert idx.shares(2, hist)  # "naruto" is a word-prefix of "naruto shippuuden"
    assert not idx.shares(4, hist)  # "kimi ni todoke" vs "kimi no na wa"
    assert not idx.shares(6, hist)  # "k" is too short to be a prefix of "k on"
    assert idx.shares(5, hist)  # … but equal short keys match
    assert not idx.shares(7, hist)
    # the other direction: a history key that extends the recommended title's key
    assert idx.shares(0, idx.history_sets(np.array([2])))
    assert idx.shares(9, idx.history_sets(np.array([8])))


def test_share_matrix_per_user_history() -> None:
    idx = FranchiseIndex(["Alpha", "Alpha Season 2", "Beta", "Beta Movie", "Gamma"])
    rec = np.array([[1, 3, -1], [1, 4, 2]])
    hist = [np.array([0]), np.array([3])]
    assert idx.share_matrix(rec, hist).tolist() == [[True, False, False], [False, False, True]]
