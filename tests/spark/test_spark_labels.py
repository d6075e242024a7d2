"""Spark pair labels: a hand-worked table, and equality with the embedded engine on random data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from animerec.data.ratings import Ratings
from animerec.labels import LabelSettings
from animerec.labels import pair_labels as embedded_pair_labels
from animerec.spark.labels import distinct_users, pair_labels, users_ratings

# NPS: P = 9–10, passive = 7–8, D = ≤ 6.
#        1      2      3
#  u1   10 P   9 P    3 D
#  u2    9 P   2 D    8 passive
#  u3    4 D   5 D   10 P
#  u4   10 P  10 P    9 P
# (1,2): u1 PP, u2 PD, u3 DD, u4 PP → n 4, agree 2, disagree 1 → +1/2; J {1,2,4}∩{1,4} → 2/3
# (1,3): u1 PD, u3 DP, u4 PP (u2 passive) → n 3, 1 vs 2 → −2/3; J {4} / {1,2,3,4} → 1/4
# (2,3): u1 PD, u3 DP, u4 PP (u2 passive) → n 3, 1 vs 2 → −2/3; J {4} / {1,3,4} → 1/3
HAND = [(1, 1, 10), (1, 2, 9), (1, 3, 3), (2, 1, 9), (2, 2, 2), (2, 3, 8),
        (3, 1, 4), (3, 2, 5), (3, 3, 10), (4, 1, 10), (4, 2, 10), (4, 3, 9)]  # fmt: skip


def frame(rows) -> pd.DataFrame:
    u, a, r = zip(*rows, strict=True)
    return pd.DataFrame({"user_id": u, "anime_id": a, "rating": np.asarray(r, np.int8)})


def test_hand_worked_table(spark) -> None:
    df = spark.createDataFrame(frame(HAND))
    got = pair_labels(spark, df, None, LabelSettings(min_corated=3, threshold=0.6))
    assert list(zip(got.anime_a, got.anime_b, strict=True)) == [(1, 2), (1, 3), (2, 3)]
    assert got.n_corated.tolist() == [4, 3, 3]
    assert got.n_agree.tolist() == [2, 1, 1]
    assert got.n_disagree.tolist() == [1, 2, 2]
    np.testing.assert_allclose(got.score, [1 / 2, -2 / 3, -2 / 3], atol=1e-12)
    np.testing.assert_allclose(got.jaccard, [2 / 3, 1 / 4, 1 / 3], atol=1e-12)
    assert got.label.tolist() == [0, -1, -1]
    # only pairs with ≥ 4 co-raters
    assert len(pair_labels(spark, df, None, LabelSettings(min_corated=4))) == 1
    # only the given users count: without u2, (1,2) has u1 PP, u3 DD, u4 PP and P1 = P2 = {1, 4}
    some = pair_labels(spark, df, np.array([1, 3, 4]), LabelSettings(min_corated=3))
    assert some.n_corated.tolist() == [3, 3, 3]
    assert some.n_agree.tolist() == [2, 1, 1] and some.n_disagree.tolist() == [0, 2, 2]
    assert some.jaccard.tolist()[0] == 1.0


def random_ratings(n_users: int = 150, n_items: int = 30, seed: int = 0) -> Ratings:
    rng = np.random.default_rng(seed)
    u, i = np.nonzero(rng.random((n_users, n_items)) < 0.45)
    return Ratings.from_arrays(u * 3 + 7, i * 11 + 5, rng.integers(1, 11, size=len(u)))


@pytest.mark.parametrize("min_corated", [1, 12])
def test_equal_to_the_embedded_engine(spark, tmp_path, min_corated: int) -> None:
    r = random_ratings(seed=min_corated)
    df = pd.DataFrame({"user_id": r.user_id, "anime_id": r.anime_id, "rating": r.rating})
    path = tmp_path / "ratings.parquet"
    df.to_parquet(path, index=False)
    users = np.unique(r.user_id)[::2]  # half the users shape the labels
    settings = LabelSettings(min_corated=min_corated, threshold=0.5, val_frac=0.3, seed=7)
    want = embedded_pair_labels(r, users, settings)
    got = pair_labels(spark, path, users, settings, scratch=tmp_path)
    assert len(want) > 50
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert not list(tmp_path.glob(".spark-pairs.*"))  # the scratch parts are gone


def test_distinct_users_feed_the_protocol_user_draw(spark, tmp_path) -> None:
    from animerec.data.split import protocol_split

    r = random_ratings(n_users=90)
    path = tmp_path / "ratings.parquet"
    pd.DataFrame({"user_id": r.user_id, "anime_id": r.anime_id, "rating": r.rating}).to_parquet(
        path
    )
    users = distinct_users(spark, path)
    np.testing.assert_array_equal(users, r.users)
    want = protocol_split(r).train_users
    np.testing.assert_array_equal(protocol_split(users_ratings(users)).train_users, want)
