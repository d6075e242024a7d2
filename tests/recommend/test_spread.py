"""Spreading a batch over the catalog: known answers on tiny rankings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from animerec.data.catalog import Catalog
from animerec.data.ratings import History
from animerec.recommend import Spread, new_exposure, spread
from animerec.recommend.pipeline import RankOptions, select
from animerec.recommend.ranking import top_k


def same_ranking(n_users: int, depth: int = 10) -> np.ndarray:
    return np.tile(np.arange(depth), (n_users, 1))


def test_a_single_user_keeps_their_own_top_k():
    ranked = np.array([[5, 3, 9, 1, 0, 2, 4]])
    assert spread(ranked, 4, Spread(keep=1, window=7), 10).tolist() == [[5, 3, 9, 1]]


def test_identical_rankings_are_spread_over_the_window():
    # 4 users who all rank 0, 1, 2, … : keep 1, then 2 slots from ranks 2..6
    out = spread(same_ranking(4), 3, Spread(keep=1, window=6), 10)
    assert (out[:, 0] == 0).all()  # the kept slot
    picks = out[:, 1:]
    assert set(picks.ravel()) == {1, 2, 3, 4, 5}  # 8 slots over the 5 window anime
    counts = np.bincount(picks.ravel(), minlength=6)[1:]
    assert counts.max() - counts.min() <= 1  # exposure is balanced
    assert (np.diff(picks, axis=1) > 0).all()  # each user's picks in their own rank order
    # without spreading everyone would get 0, 1, 2: 3 distinct anime instead of 6
    assert len(np.unique(out)) == 6


def test_every_pick_comes_from_the_users_own_window():
    rng = np.random.default_rng(1)
    ranked = np.stack([rng.permutation(50)[:20] for _ in range(30)])
    out = spread(ranked, 10, Spread(keep=6, window=20), 50)
    for u in range(30):
        assert np.array_equal(out[u, :6], ranked[u, :6])
        assert set(out[u]) <= set(ranked[u]) and len(set(out[u])) == 10


def test_short_candidate_lists_are_padded_at_the_end():
    ranked = np.array([[4, 2, -1, -1, -1], [1, 2, 3, 4, 5]])
    out = spread(ranked, 4, Spread(keep=1, window=5), 6)
    assert out[0].tolist() == [4, 2, -1, -1]
    assert (out[1] >= 0).all()


def test_seeded_and_exposure_carries_across_blocks():
    a = spread(same_ranking(6), 3, Spread(keep=1, window=8, seed=3), 10)
    b = spread(same_ranking(6), 3, Spread(keep=1, window=8, seed=3), 10)
    assert np.array_equal(a, b)
    exposure = new_exposure(10)
    first = spread(same_ranking(3), 3, Spread(keep=1, window=8), 10, exposure)
    second = spread(same_ranking(3), 3, Spread(keep=1, window=8), 10, exposure)
    assert exposure[:10].sum() == 18  # every slot counted
    assert 7 not in first and 7 in second  # the 2nd block first takes what the 1st left
    spread_counts = exposure[1:8]  # anime 1..7: the window after the kept slot
    assert spread_counts.max() - spread_counts.min() <= 1  # balanced over both blocks
    with pytest.raises(ValueError, match="cells"):
        spread(same_ranking(1), 3, Spread(), 10, new_exposure(5))


def test_spread_top_skips_masked_items():
    scores = np.tile(np.linspace(1, 0, 8, dtype=np.float32), (3, 1))
    scores[:, 1] = -np.inf
    catalog = Catalog(pd.DataFrame({"anime_id": np.arange(8), "name": [f"a{i}" for i in range(8)]}))
    histories = [History.of([]) for _ in range(3)]
    options = RankOptions(k=3, spread=Spread(keep=1, window=5))
    out = select(scores, histories, catalog, options, exposure=new_exposure(8)).positions
    assert not (out == 1).any()
    assert (out[:, 0] == top_k(scores, 1)[:, 0]).all()


def test_settings_are_checked():
    with pytest.raises(ValueError):
        Spread(keep=-1)
    with pytest.raises(ValueError):
        Spread(window=0)
