"""The workspace: artefact paths and atomic writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from animerec.workspace import Workspace, atomic_path, read_entries, write_entry


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


def test_keyed_cache_keeps_entries_and_reads_foreign_files_as_empty(tmp_path) -> None:
    path = tmp_path / "tuning" / "ease.json"
    assert read_entries(path, "ease") == {}  # no file yet
    write_entry(path, "ease", "a", {"best": {"l2": 1.0}})
    write_entry(path, "ease", "b", {"best": {"l2": 2.0}})
    assert read_entries(path, "ease") == {"a": {"best": {"l2": 1.0}}, "b": {"best": {"l2": 2.0}}}
    assert json.loads(path.read_text())["model"] == "ease"  # the format workspaces hold
    assert read_entries(path, "als") == {}  # another model's file is not this cache
    path.write_text("{not json")
    assert read_entries(path, "ease") == {}
    path.write_text(json.dumps({"model": "ease", "best": {"l2": 3.0}}))  # pre-keyed file
    assert read_entries(path, "ease") == {"": {"best": {"l2": 3.0}}}
    write_entry(path, "ease", "c", {"best": {"l2": 4.0}})
    assert read_entries(path, "ease") == {"c": {"best": {"l2": 4.0}}}
    assert not list(path.parent.glob(".*.tmp"))  # written through a temporary name
