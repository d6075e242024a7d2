"""Metrics on hand-made cases whose values are worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from animerec.data.ratings import Ratings
from animerec.evaluate.metrics import (
    PAD,
    bootstrap_ci,
    bootstrap_ratio_ci,
    coverage,
    id_matrix,
    intra_list_diversity,
    lookup_heldout,
    mean_popularity_rank,
    novelty,
    nps_by_rank_bucket,
    nps_pooled,
    nps_user_parts,
    nps_value,
    ranking_metrics,
)
from animerec.recommend.base import Recommendation


def held(rows: list[tuple[int, int, int]]) -> Ratings:
    u, a, r = zip(*rows, strict=True)
    return Ratings.from_arrays(u, a, r)


def test_ndcg_two_relevant_one_hit_at_rank_two() -> None:
    # user 1: relevant held-out items 11 and 12; recommended [5, 11, 6]: one hit at rank 2
    heldout = held([(1, 11, 9), (1, 12, 10), (1, 13, 4)])
    rec = np.array([[5, 11, 6]])
    look = lookup_heldout(rec, heldout, np.array([1]))
    m = ranking_metrics(look, np.array([1]), k=3)
    expected = (1 / math.log2(3)) / (1 + 1 / math.log2(3))
    assert m.ndcg[0] == pytest.approx(expected)
    assert m.hr[0] == 1.0
    assert m.recall[0] == pytest.approx(0.5)  # 1 hit / min(3, 2 relevant)
    assert m.hits[0] == 1


def test_recall_denominator_is_min_k_and_relevant() -> None:
    # 12 relevant items, k = 10, 3 hits at ranks 1, 5, 10 -> recall 3/10
    heldout = held([(7, 100 + i, 9) for i in range(12)])
    rec = np.array([[100, 1, 2, 3, 101, 4, 5, 6, 7, 102]])
    m = ranking_metrics(lookup_heldout(rec, heldout, np.array([7])), np.array([7]), k=10)
    assert m.recall[0] == pytest.approx(0.3)
    dcg = 1 + 1 / math.log2(6) + 1 / math.log2(11)
    idcg = sum(1 / math.log2(r + 2) for r in range(10))
    assert m.ndcg[0] == pytest.approx(dcg / idcg)


def test_users_without_relevant_items_are_not_counted() -> None:
    heldout = held([(1, 10, 9), (2, 20, 8), (3, 30, 2)])
    rec = np.array([[10, PAD], [20, 21], [30, 31]])
    m = ranking_metrics(lookup_heldout(rec, heldout, np.array([1, 2, 3])), np.array([1, 2, 3]), k=2)
    assert m.users.tolist() == [1]
    assert m.ndcg.tolist() == [1.0]
    assert m.hr.tolist() == [1.0]


def test_padding_and_other_users_items_never_match() -> None:
    # user 2 holds anime 10 out, user 1 is recommended anime 10: no hit for user 1
    heldout = held([(1, 11, 10), (2, 10, 10)])
    rec = np.array([[10, PAD], [PAD, PAD]])
    look = lookup_heldout(rec, heldout, np.array([1, 2]))
    assert look.rating.tolist() == [[0, 0], [0, 0]]
    assert look.n_relevant.tolist() == [1, 1]
    m = ranking_metrics(look, np.array([1, 2]), k=2)
    assert m.hr.tolist() == [0.0, 0.0]


def test_lookup_rejects_unsorted_users_and_duplicates() -> None:
    with pytest.raises(ValueError, match="sorted"):
        lookup_heldout(np.array([[1], [2]]), held([(1, 1, 9)]), np.array([2, 1]))
    with pytest.raises(ValueError, match="twice"):
        lookup_heldout(np.array([[1]]), held([(1, 1, 9), (1, 1, 8)]), np.array([1]))


def test_nps_value_mapping() -> None:
    assert nps_value(np.array([10, 9, 8, 7, 6, 1])).tolist() == [1, 1, 0, 0, -1, -1]


def test_nps_pooled_over_all_rated_recommendations() -> None:
    # user 1: recommended items rated 10 and 5; user 2: rated 8 and 9, plus one unrated item
    heldout = held([(1, 1, 10), (1, 2, 5), (2, 3, 8), (2, 4, 9), (2, 9, 1)])
    rec = np.array([[1, 2, 50], [3, 4, 51]])
    look = lookup_heldout(rec, heldout, np.array([1, 2]))
    nps = nps_pooled(look.rating)
    assert (nps.n, nps.promoters, nps.detractors) == (4, 2, 1)
    assert nps.value == pytest.approx((2 - 1) / 4)
    s, n = nps_user_parts(look.rating)
    assert s.tolist() == [0, 1] and n.tolist() == [2, 2]
    assert math.isnan(nps_pooled(np.zeros((2, 3), np.int8)).value)


def test_nps_by_rank_bucket() -> None:
    # ranks 0-2: 10, 9, 3 -> (2-1)/3; ranks 3-6: 8, 0, 0, 0 -> 0/1; ranks 7+: 1, 2, 0 -> -2/2
    rating = np.array([[10, 9, 3, 8, 0, 0, 0, 1, 2, 0]], np.int8)
    b = nps_by_rank_bucket(rating)
    assert list(b) == ["0-2", "3-6", "7+"]
    assert b["0-2"].value == pytest.approx(1 / 3) and b["0-2"].n == 3
    assert b["3-6"].value == 0.0 and b["3-6"].n == 1
    assert b["7+"].value == -1.0 and b["7+"].n == 2


def test_coverage_counts_distinct_items_of_the_denominator() -> None:
    rec = np.array([[1, 2, PAD], [2, 3, 99]])
    # 99 is not in the denominator (say, a cold item): it is not counted
    assert coverage(rec, np.array([1, 2, 3, 4, 5])) == pytest.approx(3 / 5)


def test_mean_popularity_rank_skips_unranked() -> None:
    popularity = np.array([1.0, 10.0, 0.0, np.nan])  # per catalog position; 0 = unranked
    pos = np.array([[0, 1, 2], [3, 1, -1]])
    assert mean_popularity_rank(pos, popularity) == pytest.approx((1 + 10 + 10) / 3)


def test_bootstrap_is_seeded_and_contains_the_mean() -> None:
    v = np.random.default_rng(3).random(200)
    a, b = bootstrap_ci(v, n=1000, seed=42), bootstrap_ci(v, n=1000, seed=42)
    assert a == b
    assert a.mean == pytest.approx(v.mean())
    assert a.low < a.mean < a.high
    # the spread is about 1.96 standard errors each side
    se = v.std(ddof=1) / np.sqrt(len(v))
    assert a.high - a.low == pytest.approx(2 * 1.96 * se, rel=0.15)
    assert bootstrap_ci(v, n=1000, seed=7) != a
    c = bootstrap_ci(np.ones(5))
    assert (c.mean, c.low, c.high) == (1.0, 1.0, 1.0)


def test_bootstrap_ratio_pools_numerators_and_denominators() -> None:
    num, den = np.array([1.0, -1.0, 2.0]), np.array([2.0, 1.0, 2.0])
    ci = bootstrap_ratio_ci(num, den, n=500, seed=1)
    assert ci.mean == pytest.approx(2 / 5)
    assert ci.low <= ci.mean <= ci.high


def test_intra_list_diversity_and_novelty() -> None:
    vecs = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]], np.float32)
    # list 1: orthogonal pair -> 1; list 2: identical pair -> 0; list 3: a single item, skipped
    pos = np.array([[0, 1], [0, 2], [1, -1]])
    assert intra_list_diversity(pos, vecs) == pytest.approx(0.5)
    share = np.array([0.5, 0.25, 1.0])
    assert novelty(np.array([[0, 1, -1]]), share) == pytest.approx((1 + 2) / 2)


def test_id_matrix_pads_short_lists() -> None:
    recs = [[Recommendation(5, 1.0, ""), Recommendation(7, 0.5, "")], []]
    assert id_matrix(recs, 3).tolist() == [[5, 7, PAD], [PAD, PAD, PAD]]


def test_relevant_items_restrict_to_cold_start() -> None:
    heldout = held([(1, 10, 9), (1, 20, 10), (1, 30, 9)])
    rec = np.array([[10, 20]])
    look = lookup_heldout(rec, heldout, np.array([1]), relevant_items=np.array([20, 30]))
    assert look.n_relevant.tolist() == [2]
    assert look.rating.tolist() == [[0, 10]]
    m = ranking_metrics(look, np.array([1]), k=2)
    assert m.recall[0] == pytest.approx(0.5)
