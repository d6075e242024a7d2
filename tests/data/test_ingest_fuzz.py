"""Property test of ingest on malformed ``rating_complete.csv`` and ``anime.csv`` (Hypothesis):
quotes, embedded newlines, a BOM, CRLF, Latin-1 bytes, huge fields, missing and extra fields,
missing / extra / duplicate header columns, empty files.

Either ingest stops with one clear line naming the file (and the column, for a header problem),
or it ingests, and then every input row is accounted for: accepted + rejected = input rows,
each reject with a reason.
"""

from __future__ import annotations

import csv
import shutil
import sys
import tempfile
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from animerec.data.ingest import ingest
from animerec.errors import DataError
from animerec.workspace import Workspace

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "serve"))
from serve_data import write_tiny_data  # noqa: E402  (the serving tests' tiny MAL files)

SETTINGS = settings(
    max_examples=40,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
RATING_HEADER = ["user_id", "anime_id", "rating"]

# --- building CSV bytes --------------------------------------------------------------------------
junk_text = st.sampled_from(
    ['"', '""', "a,b", "line\nbreak", "cr\r\nlf", " 5 ", "+7", "-3", "1e3", "7.0", "", "NaN",
     "x" * 70_000, "9" * 40, "\u00e9t\u00e9", "\ufeff1", "\x00"]
)  # fmt: skip
latin1 = st.sampled_from([b"\xe9", b"caf\xe9", b"\xff\xfe", b"9\xb2"])
Cell = str | bytes


def _field(cell: Cell) -> bytes:
    if isinstance(cell, bytes):
        return cell
    if any(ch in cell for ch in ',"\r\n') or cell == "":
        return b'"' + cell.replace('"', '""').encode() + b'"'
    return cell.encode()


def encode(header: list[Cell] | None, rows: list[list[Cell]], *, bom: bool, crlf: bool) -> bytes:
    eol = b"\r\n" if crlf else b"\n"
    lines = ([b",".join(_field(c) for c in header)] if header is not None else []) + [
        b",".join(_field(c) for c in row) for row in rows
    ]
    return (b"\xef\xbb\xbf" if bom else b"") + eol.join(lines) + (eol if lines else b"")


@st.composite
def rating_cell(draw, kind: str) -> Cell:
    roll = draw(st.integers(0, 9))
    if roll < 6:  # mostly plausible values, so some rows are accepted
        return str(draw({"user": st.integers(1, 40), "anime": st.integers(1, 14),
                         "rating": st.integers(0, 11)}[kind]))  # fmt: skip
    if roll < 8:
        return draw(junk_text)
    if roll < 9:
        return draw(latin1)
    return str(draw(st.integers(-(2**70), 2**70)))


@st.composite
def rating_row(draw, width: int) -> list[Cell]:
    kinds = (["user", "anime", "rating"] + ["extra"] * (width - 3))[:width]
    row = [draw(rating_cell(k)) if k != "extra" else draw(junk_text) for k in kinds]
    shape = draw(st.integers(0, 9))
    if shape == 0:
        row = row[: draw(st.integers(1, max(1, len(row) - 1)))]  # missing fields
    elif shape == 1:
        row = row + [draw(junk_text)]  # an extra field
    if row == [""]:
        row = ['"']  # a single empty field is a blank line, which no CSV reader counts as a row
    return row


@st.composite
def rating_file(draw) -> tuple[bytes, int, str | None]:
    """(file bytes, data rows written, the header column at fault or None)."""
    header: list[Cell] = list(RATING_HEADER)
    fault = None
    variant = draw(st.integers(0, 9))
    if variant == 0:
        fault = draw(st.sampled_from(RATING_HEADER))
        header.remove(fault)
    elif variant == 1:
        fault = draw(st.sampled_from(RATING_HEADER))
        header.append(fault)  # duplicated
    elif variant == 2:
        header.insert(draw(st.integers(0, 3)), "extra")
    elif variant == 3:
        header = [f'"{h}"' if isinstance(h, str) else h for h in header]  # quoted names
    rows = draw(st.lists(rating_row(len(header)), max_size=25))
    good = [str(draw(st.integers(1, 40))), str(draw(st.integers(1, 12))), "7"]
    if variant == 2:
        good.insert(header.index("extra"), "e")
    rows.insert(draw(st.integers(0, len(rows))), good)  # at least one row that may be accepted
    empty = draw(st.integers(0, 19)) == 0
    data = b"" if empty else encode(header if variant != 3 else None, rows, bom=draw(st.booleans()),
                                    crlf=draw(st.booleans()))  # fmt: skip
    if variant == 3 and not empty:
        data = ",".join(header).encode() + b"\n" + data  # type: ignore[arg-type]
    return data, len(rows), ("<empty>" if empty else fault)


# --- the properties ------------------------------------------------------------------------------
def _rejects(ws: Workspace, file: str) -> pd.DataFrame:
    rej = pd.read_csv(ws.rejects, dtype=str, keep_default_na=False)
    return rej[rej["file"] == file]


def _one_line(exc: DataError, file: str) -> str:
    msg = str(exc)
    assert "\n" not in msg and file in msg, msg
    return msg


@SETTINGS
@given(rating_file())
def test_malformed_ratings_are_counted_or_refused_clearly(case) -> None:
    data, n_rows, fault = case
    root = Path(tempfile.mkdtemp(prefix="fuzz-"))
    try:
        d = write_tiny_data(root / "data")
        (d / "rating_complete.csv").write_bytes(data)
        ws = Workspace(root / "ws")
        try:
            summary = ingest(d, ws)
        except DataError as exc:
            event("refused")
            msg = _one_line(exc, "rating_complete.csv")
            if fault == "<empty>":
                assert "empty" in msg
            elif fault is not None:
                assert repr(fault) in msg, msg
            else:
                assert "no valid ratings" in msg, msg  # every row rejected: still named
            return
        assert fault is None, f"expected a refusal for {fault!r}"
        rej = _rejects(ws, "rating_complete.csv")
        event("ingested with rejects" if len(rej) else "ingested whole")
        assert summary.ratings + len(rej) == n_rows, (summary.ratings, len(rej), n_rows)
        assert (rej["reason"].str.len() > 0).all()
    finally:
        shutil.rmtree(root, ignore_errors=True)


@st.composite
def anime_file(draw) -> tuple[bytes, int, set[str]]:
    """(file bytes, data rows written, the faults that must refuse it: a header column at
    fault, ``<latin-1>`` for bytes that are not UTF-8; either may be named when both are)."""
    d = Path(tempfile.mkdtemp(prefix="fuzz-src-"))
    try:
        with (write_tiny_data(d) / "anime.csv").open(newline="", encoding="utf-8") as f:
            header, *rows = list(csv.reader(f))
    finally:
        shutil.rmtree(d, ignore_errors=True)
    rows = [list(r) for r in rows]
    fault = None
    variant = draw(st.integers(0, 7))
    if variant == 0:
        fault = draw(st.sampled_from(["MAL_ID", "Name", "Type", "Studios"]))
        i = header.index(fault)
        header = header[:i] + header[i + 1 :]
        rows = [r[:i] + r[i + 1 :] for r in rows]
    elif variant == 1:
        fault = draw(st.sampled_from(["MAL_ID", "Name"]))
        header = [*header, fault]
        rows = [[*r, "dup"] for r in rows]
    for _ in range(draw(st.integers(0, 8))):  # damaged copies of real rows
        r: list[Cell] = list(draw(st.sampled_from(rows)))
        col = draw(st.integers(0, len(r) - 1))
        r[col] = draw(st.one_of(junk_text, latin1 if draw(st.integers(0, 4)) == 0 else junk_text))
        if draw(st.integers(0, 5)) == 0:
            r = r[: draw(st.integers(1, len(r)))] if draw(st.booleans()) else [*r, "extra"]
        rows.insert(draw(st.integers(0, len(rows))), r)
    latin = any(isinstance(c, bytes) for r in rows for c in r)
    data = encode(header, rows, bom=draw(st.booleans()), crlf=draw(st.booleans()))
    faults = {f for f in (fault, "<latin-1>" if latin else None) if f is not None}
    return data, len(rows), faults


@SETTINGS
@given(anime_file())
def test_malformed_anime_rows_are_counted_or_refused_clearly(case) -> None:
    data, n_rows, faults = case
    root = Path(tempfile.mkdtemp(prefix="fuzz-"))
    try:
        d = write_tiny_data(root / "data")
        (d / "anime.csv").write_bytes(data)
        ws = Workspace(root / "ws")
        try:
            summary = ingest(d, ws)
        except DataError as exc:
            event("refused")
            msg = _one_line(exc, "anime.csv")
            named = {f for f in faults if (repr(f) if f != "<latin-1>" else "not UTF-8") in msg}
            assert named, (msg, faults)
            return
        assert not faults, f"expected a refusal for {faults}"  # Latin-1 too: not UTF-8
        rej = _rejects(ws, "anime.csv")
        event("ingested with rejects" if len(rej) else "ingested whole")
        assert summary.anime + len(rej) == n_rows, (summary.anime, len(rej), n_rows)
        assert (rej["reason"].str.len() > 0).all()
    finally:
        shutil.rmtree(root, ignore_errors=True)
