"""The study's k-fold cold-start partition of the catalog."""

from __future__ import annotations

import numpy as np


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


def test_labels_name_an_embedder_and_its_length(es):
    assert es.parse_label("base@128") == ("minilm", 128)
    assert es.parse_label("mpnet@384") == ("mpnet", 384)
    assert es.parse_label("ad384-rare") == ("ad384-rare", None)
