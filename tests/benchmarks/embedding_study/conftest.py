"""The study package, imported the way its entry point runs it (benchmarks/ on sys.path)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[3] / "benchmarks"


@pytest.fixture(scope="session")
def es():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        return importlib.import_module("embedding_study")
    finally:
        sys.path.remove(str(BENCHMARKS))
