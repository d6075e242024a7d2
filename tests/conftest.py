"""Shared fixtures. Tests that need the real sample fail loudly when it is missing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
SAMPLE_ENV = "ANIMEREC_SAMPLE_DATA"


def sample_dir() -> Path:
    """The shared MAL sample (``$ANIMEREC_SAMPLE_DATA``, else ``../shared/data/mal-2020-sample``)."""
    d = Path(os.environ.get(SAMPLE_ENV) or REPO.parent / "shared" / "data" / "mal-2020-sample")
    if not (d / "anime.csv").exists():
        pytest.fail(
            f"the shared MAL sample is missing at {d}: set ${SAMPLE_ENV} to the folder holding "
            "anime.csv, anime_with_synopsis.csv and rating_complete.csv",
            pytrace=False,
        )
    return d


@pytest.fixture(scope="session")
def sample_data() -> Path:
    return sample_dir()


@pytest.fixture(scope="session")
def sample_workspace(sample_data: Path, tmp_path_factory: pytest.TempPathFactory):
    """A workspace with the real sample ingested (once per test session)."""
    from animerec.data.ingest import ingest
    from animerec.workspace import Workspace

    ws = Workspace(tmp_path_factory.mktemp("sample-ws"))
    ingest(sample_data, ws)
    return ws


@pytest.fixture(scope="session")
def sample_catalog(sample_workspace):
    from animerec.data.catalog import Catalog

    return Catalog.read(sample_workspace.anime)


@pytest.fixture(scope="session")
def sample_ratings(sample_workspace):
    from animerec.data.ratings import Ratings

    return Ratings.read(sample_workspace.ratings)
