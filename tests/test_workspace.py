"""The workspace: artefact paths and atomic writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from animerec.workspace import Workspace, atomic_path


def test_a_string_root_is_a_path():
    ws = Workspace("some/ws")
    assert ws.root == Path("some/ws") and ws.ratings == Path("some/ws/ratings.parquet")


def test_atomic_path_leaves_nothing_half_written(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as work:
        work.write_text("half")
        raise RuntimeError("crash mid-write")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]
    with atomic_path(target) as work:
        work.write_text("new")
    assert target.read_text() == "new"
