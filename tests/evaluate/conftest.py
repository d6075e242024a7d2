"""Fixtures of the evaluation tests (the fakes live in ``evalfakes.py``)."""

from __future__ import annotations

import pytest
from evalfakes import CountPop, synthetic

from animerec.data.catalog import Catalog
from animerec.data.ratings import Ratings


@pytest.fixture
def synth() -> tuple[Ratings, Catalog]:
    return synthetic()


@pytest.fixture
def countpop_registry(monkeypatch: pytest.MonkeyPatch) -> type[CountPop]:
    """Register :class:`CountPop` under ``countpop`` in the recommender registry."""
    from animerec.recommend import registry

    monkeypatch.setitem(registry.RECOMMENDERS, "countpop", CountPop)
    CountPop.fit_calls = []
    return CountPop
