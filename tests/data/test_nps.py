"""The book's NPS reading of ratings, in one place."""

from __future__ import annotations

import numpy as np

from animerec.data.nps import DETRACTOR_MAX, PASSIVE_MIN, PROMOTER_MIN, nps
from animerec.evaluate.metrics import nps_pooled, nps_value
from animerec.labels import nps as labels_nps


def test_the_mapping_and_its_thresholds():
    ratings = np.arange(1, 11)
    assert nps(ratings).tolist() == [-1] * 6 + [0, 0, 1, 1]
    assert (PROMOTER_MIN, PASSIVE_MIN, DETRACTOR_MAX) == (9, 7, 6)
    assert nps(ratings).dtype == np.int8


def test_labels_and_metrics_read_ratings_the_same_way():
    ratings = np.array([[10, 9, 8, 7, 6, 1, 0]])
    assert labels_nps(ratings[0]).tolist() == nps(ratings[0]).tolist()
    assert nps_value(ratings).tolist() == nps(ratings).tolist()
    pooled = nps_pooled(ratings)  # 0 = not rated
    assert (pooled.n, pooled.promoters, pooled.detractors) == (6, 2, 2)
