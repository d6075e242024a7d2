"""The study script's k-fold cold-start pieces: the fold partition and the pooled paired delta."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

STUDY = Path(__file__).resolve().parents[2] / "benchmarks" / "embedding_study.py"


@pytest.fixture(scope="module")
def es():
    spec = importlib.util.spec_from_file_location("embedding_study", STUDY)
    module = importlib.util.module_from_spec(spec)
    sys.modules["embedding_study"] = module
    spec.loader.exec_module(module)
    return module


class _Catalog:
    anime_ids = np.arange(100, 1100, 3)


def test_folds_partition_the_catalog(es):
    study = es.Study.__new__(es.Study)  # only the catalog is needed for the folds
    study.catalog = _Catalog()
    folds = [study.fold_items(f) for f in range(es.FOLDS)]
    joined = np.concatenate(folds)
    assert len(joined) == len(np.unique(joined)) == len(_Catalog.anime_ids)
    assert np.array_equal(np.sort(joined), _Catalog.anime_ids)
    assert max(map(len, folds)) - min(map(len, folds)) <= 1
    assert np.array_equal(study.fold_items(3), folds[3])  # seeded: the same every call


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
