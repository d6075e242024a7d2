"""A full disk during ``animerec ingest``: one clear line, exit code 1, the old workspace
byte for byte as it was, no temporary folder left. The disk fills (``OSError(ENOSPC)``) at
chosen writes: while staging the ratings, while writing the rejects, while writing the new
catalog (inside its atomic write, just before the rename)."""

from __future__ import annotations

import errno
import sys

import pandas as pd
import pyarrow.parquet as pq
import pytest
from faultkit import snapshot
from serve_data import write_tiny_data

import animerec.data.ingest as ingest_mod
from animerec.cli import main
from animerec.data.catalog import Catalog
from animerec.data.ingest import ingest
from animerec.workspace import Workspace, atomic_path


def _full(*_args, **_kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


POINTS = {
    "staging": (pq.ParquetWriter, "write_table"),
    "rejects": (ingest_mod._Rejects, "add"),
    "catalog": (pd.DataFrame, "to_parquet"),
}


@pytest.mark.parametrize("point", list(POINTS))
def test_disk_full_during_ingest_is_one_line_and_keeps_the_old_workspace(
    tmp_path, monkeypatch, capsys, point: str
) -> None:
    ws = Workspace(tmp_path / "ws")
    data = write_tiny_data(tmp_path / "data")
    ingest(data, ws)
    before = snapshot(ws.root)
    with (data / "rating_complete.csv").open("a") as f:
        f.write("1,999,5\nx,1,5\n")  # an unknown anime and a bad user id: rejects to write
    monkeypatch.setattr(*POINTS[point], _full)
    monkeypatch.setattr(
        sys, "argv", ["animerec", "ingest", "--data", str(data), "-w", str(ws.root)]
    )
    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code == 1
    err = capsys.readouterr().err.strip()
    assert err == (
        f"error: {ws.root}: no space left on device "
        "(before publishing anything: the previous workspace is unchanged)"
    )
    monkeypatch.undo()
    assert snapshot(ws.root) == before
    assert not [p for p in ws.root.iterdir() if p.name.startswith(".")]  # temp folder gone
    ws.require_ingested()
    assert len(Catalog.read(ws.anime)) == 12


def test_other_os_errors_are_not_dressed_up_as_a_full_disk(tmp_path, monkeypatch) -> None:
    ws = Workspace(tmp_path / "ws")
    data = write_tiny_data(tmp_path / "data")

    def denied(*_a, **_k):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(pq.ParquetWriter, "write_table", denied)
    with pytest.raises(PermissionError):
        ingest(data, ws)


@pytest.mark.parametrize("exchange", [True, False])
def test_a_folder_replaced_by_atomic_path_is_whole_either_way(
    tmp_path, monkeypatch, exchange
) -> None:
    """The one-step swap (Linux) and the two-rename fallback both end with the new folder only."""
    import animerec.workspace as w

    if not exchange:
        monkeypatch.setattr(w, "_exchange", lambda a, b: False)
    target = tmp_path / "rep"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with atomic_path(target) as work:
        work.mkdir()
        (work / "new.txt").write_text("new")
    assert [p.name for p in target.iterdir()] == ["new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["rep"]
    if exchange:
        assert w._exchange(tmp_path / "rep", tmp_path / "rep") in (True, False)
