"""History matrices built straight into CSR and the dense id lookups equal the generic routes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from animerec.data.catalog import Catalog
from animerec.data.ratings import History, histories_matrix
from animerec.recommend.itemspace import ItemSpace, weighted


def catalog_of(ids: np.ndarray) -> Catalog:
    return Catalog(pd.DataFrame({"anime_id": ids, "name": [f"a{i}" for i in ids]}))


@pytest.mark.parametrize("spread", [5_000, 10**12])  # dense id tables, and the sorted fallback
def test_positions_equal_pandas(spread: int) -> None:
    rng = np.random.default_rng(0)
    ids = rng.choice(spread, 300, replace=False) + 1  # catalog order is not id order
    catalog = catalog_of(ids)
    assert (catalog.position_table is None) == (spread > 10**6)
    asked = np.r_[rng.choice(ids, 50), [0, -5, spread + 7, 2**62, ids[3]]]
    expected = pd.Index(ids).get_indexer(asked)
    got = catalog.positions(asked)
    assert got.dtype == np.int64 and (got == expected).all()
    assert catalog.positions([]).shape == (0,)
    assert catalog.positions([int(ids[7])])[0] == 7


def test_positions_by_hand() -> None:
    catalog = catalog_of(np.array([50, 10, 30]))
    assert catalog.positions([30, 10, 40, 50, 99, -1]).tolist() == [2, 1, -1, 0, -1, -1]


def test_duplicate_catalog_ids_keep_the_pandas_behaviour() -> None:
    catalog = catalog_of(np.array([1, 2, 2]))
    assert catalog.position_table is None
    with pytest.raises(Exception):  # noqa: B017 - whatever pandas raises for a non-unique index
        catalog.positions([2])


@pytest.mark.parametrize("spread", [5_000, 10**12])
def test_history_matrix_equals_the_generic_route(spread: int) -> None:
    rng = np.random.default_rng(1)
    ids = np.sort(rng.choice(spread, 300, replace=False)) + 1
    space = ItemSpace.of(catalog_of(ids), rng.choice(ids, 150, replace=False))
    for _ in range(100):
        histories = []
        for _ in range(int(rng.integers(0, 5))):  # 0–4 histories, some empty
            n = int(rng.integers(0, 30))
            anime = rng.choice(np.r_[ids, [10**13, 7]], n)  # repeats and unknown ids
            histories.append(History.of(anime, rng.integers(1, 11, n)))
        ref = histories_matrix(histories, space.item_ids)
        got = space.history_matrix(histories)
        assert got.shape == ref.shape
        for a, b in ((got, ref),) + tuple(
            (space.history_matrix(histories, min_rating=m, graded=g), weighted(ref, m, g))
            for m, g in ((7, True), (9, False))
        ):
            assert np.array_equal(a.indptr, b.indptr)
            assert np.array_equal(a.indices, b.indices)  # sorted columns, repeats summed
            assert a.data.dtype == np.float32 and np.array_equal(a.data, b.data)


def test_history_matrix_by_hand() -> None:
    space = ItemSpace.of(catalog_of(np.array([10, 20, 30, 40])), np.array([40, 20, 10]))
    assert space.item_ids.tolist() == [10, 20, 40]  # catalog order
    h = History.of([40, 99, 10, 40], [8, 10, 6, 2])  # 99 unknown; 40 twice → 8 + 2
    m = space.history_matrix([h, History.of([], [])])
    assert m.toarray().tolist() == [[6.0, 0.0, 10.0], [0.0, 0.0, 0.0]]
    w = space.history_matrix([h], min_rating=7, graded=True)  # 6 drops, 10 → 4
    assert w.toarray().tolist() == [[0.0, 0.0, 4.0]] and w.nnz == 1
    assert space.id_columns(np.array([20, 30, 5, -1])).tolist() == [1, -1, -1, -1]
