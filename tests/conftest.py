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
