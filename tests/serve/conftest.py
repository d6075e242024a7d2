"""Fixtures of the serving tests: the tiny dataset (``serve_data.py``) ingested for real, and an
app client on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from serve_data import SERVE_MODELS, write_tiny_data

from animerec.workspace import Workspace


@pytest.fixture(scope="session")
def tiny_workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """The tiny dataset through the real ingest (fitted models get cached in it, read-only)."""
    from animerec.data.ingest import ingest

    root = tmp_path_factory.mktemp("serve-tiny")
    ws = Workspace(root / "ws")
    ingest(write_tiny_data(root / "data"), ws)
    return ws


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'feedback.db'}"


@pytest.fixture
def client(tiny_workspace: Workspace, db_url: str) -> Iterator[TestClient]:
    """The app on the tiny workspace, lifespan started, with a fresh feedback database."""
    from animerec.serve.app import create_app

    app = create_app(tiny_workspace, db_url=db_url, models=SERVE_MODELS)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c
