"""The study's paired deltas: per-user pairing, and the pooled k-fold delta resampling users."""

from __future__ import annotations

import numpy as np
import pytest


def _fold(users, ndcg):
    return {"users": list(users), "ndcg": list(ndcg), "hr": [float(x > 0) for x in ndcg]}


def test_pooled_delta_pairs_units_and_resamples_users(es):
    rng = np.random.default_rng(0)
    a, b = [], []
    for _ in range(4):
        users = np.sort(rng.choice(300, 120, replace=False))
        base = rng.random(120) * 0.3
        a.append(_fold(users, base))
        # b gains 0.05 on every user, and counts one user a does not (ignored: not paired)
        b.append(_fold([*users, 999], [*(base + 0.05), 1.0]))
    d, lo, hi, n = es.pooled_delta(a, b)
    assert n == 480
    assert d == pytest.approx(0.05)
    assert lo == pytest.approx(0.05) and hi == pytest.approx(0.05)  # a constant gain has no spread

    noisy = [_fold(f["users"], np.asarray(f["ndcg"]) + rng.normal(0, 0.1, 120)) for f in a]
    d, lo, hi, _ = es.pooled_delta(a, noisy)
    assert lo < d < hi and lo < 0 < hi  # pure noise: the interval spans zero


def test_paired_delta_counts_only_users_both_runs_scored(es):
    a = _fold([1, 2, 3], [0.1, 0.2, 0.3])
    b = _fold([2, 3, 4], [0.3, 0.4, 0.9])
    d, lo, hi = es.paired_delta(a, b)
    assert d == pytest.approx(0.1) and lo == pytest.approx(0.1) and hi == pytest.approx(0.1)
    assert all(np.isnan(x) for x in es.paired_delta(a, _fold([9], [1.0])))
