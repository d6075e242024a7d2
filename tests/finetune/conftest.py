"""Fixtures of the fine-tuning tests (the data builders live in ``tastefakes.py``)."""

from __future__ import annotations

import pytest
from tastefakes import taste_catalog, taste_ratings, write_workspace

from animerec.data.catalog import Catalog
from animerec.data.ratings import Ratings
from animerec.workspace import Workspace


@pytest.fixture(scope="module")
def taste() -> tuple[Ratings, Catalog]:
    return taste_ratings(), taste_catalog()


@pytest.fixture
def taste_ws(tmp_path, taste) -> Workspace:
    return write_workspace(tmp_path / "ws", *taste)
