"""Bring your MyAnimeList list: MAL's "Export my list" XML (plain or gzipped) and the Kaggle
``animelist.csv`` rows of one user, read into a history, exclusions and dislikes.

A fan has usually rated hundreds of anime on MAL already; typing them again is not an option.
Scored, completed entries become the history (anime id -> 1–10 score); everything else the user
has already met — watching, on hold, plan to watch, dropped, completed without a score — is kept
out of the results; dropped entries also count as dislikes. Ids the catalog does not know are
reported, never fatal (MAL keeps adding anime). Input is untrusted: it is size-bounded (also
after gunzip), parsed with ``defusedxml`` with DTDs and entities refused (no "billion laughs"),
and any malformed part raises :class:`MalListError` naming the line or element.
"""

from __future__ import annotations

import csv
import enum
import gzip
import io
import os
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree.ElementTree import Element, ParseError, TreeBuilder  # nosec B405  # types only: parsing goes through defusedxml

import numpy as np
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from animerec.data.catalog import Catalog
from animerec.errors import DataError

__all__ = [
    "MAX_BYTES",
    "MAX_ENTRIES",
    "ImportedList",
    "ListEntry",
    "ListStatus",
    "MalListError",
    "import_list",
    "load_list",
    "load_list_file",
    "parse_kaggle_animelist",
    "parse_mal_export",
    "read_list_bytes",
]

MAX_BYTES = 16 << 20
"""Largest list accepted, compressed or not (a 5,000-entry MAL export is about 4 MB)."""
MAX_ENTRIES = 50_000
"""Most entries in one list (MAL has about 20,000 anime)."""


class MalListError(DataError, ValueError):
    """A list file is malformed; ``location`` names the line or element."""

    def __init__(self, message: str, location: str = "") -> None:
        super().__init__(f"{location}: {message}" if location else message)
        self.message = message
        self.location = location


class ListStatus(enum.Enum):
    """A list entry's status (value: the Kaggle ``watching_status`` code)."""

    WATCHING = 1
    COMPLETED = 2
    ON_HOLD = 3
    DROPPED = 4
    PLAN_TO_WATCH = 6


_XML_STATUS = {
    "watching": ListStatus.WATCHING,
    "completed": ListStatus.COMPLETED,
    "on-hold": ListStatus.ON_HOLD,
    "on hold": ListStatus.ON_HOLD,
    "dropped": ListStatus.DROPPED,
    "plan to watch": ListStatus.PLAN_TO_WATCH,
    "plan-to-watch": ListStatus.PLAN_TO_WATCH,
}
_CODES = {s.value: s for s in ListStatus}


@dataclass(frozen=True)
class ListEntry:
    anime_id: int
    score: int
    """0 = not scored, else 1–10."""
    status: ListStatus


@dataclass(frozen=True)
class ImportedList:
    """A list read against a catalog: what the recommenders and filters take."""

    history: dict[int, int]
    """Anime id -> score of the scored, completed entries the catalog knows."""
    excluded: frozenset[int]
    """Catalog anime the user has met otherwise: watching, on hold, plan to watch, dropped,
    completed without a score. Results leave these (and the history) out."""
    dislikes: frozenset[int]
    """Dropped catalog anime (also in ``excluded``)."""
    unknown_ids: tuple[int, ...]
    """Ids of the list the catalog does not have, in list order."""
    n_entries: int
    source: str
    """``"mal-xml"`` or ``"kaggle-csv"``."""
    duplicate_ids: tuple[int, ...] = field(default=())
    """Ids listed more than once (the first entry counts)."""
    statuses: dict[int, ListStatus] = field(default_factory=dict)
    """The list status of every catalog anime in ``history`` and ``excluded``."""


# --- bytes ------------------------------------------------------------------------------------


def read_list_bytes(data: bytes, *, max_bytes: int = MAX_BYTES) -> bytes:
    """``data`` as plain bytes: gunzipped when it starts with the gzip magic, in either case at
    most ``max_bytes`` (a small gzip that inflates past the bound is refused, not inflated)."""
    if len(data) > max_bytes:
        raise MalListError(f"the file is {len(data):,} bytes; the limit is {max_bytes:,}")
    if data[:2] != b"\x1f\x8b":
        return data
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as z:
            out = z.read(max_bytes + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise MalListError(f"not a readable gzip file ({exc})") from None
    if len(out) > max_bytes:
        raise MalListError(f"the file unpacks to more than {max_bytes:,} bytes")
    return out


# --- MAL XML ----------------------------------------------------------------------------------


class _LineBuilder(TreeBuilder):
    """A tree builder that remembers the line each element starts on, for error messages."""

    def __init__(self) -> None:
        super().__init__()
        self.parser: DefusedXMLParser | None = None
        self.lines: dict[int, int] = {}

    def start(self, tag: str, attrs: dict[str, str]) -> Element:
        el = super().start(tag, attrs)
        if self.parser is not None:
            self.lines[id(el)] = self.parser.parser.CurrentLineNumber
        return el


def _xml_root(data: bytes) -> tuple[Element, dict[int, int]]:
    builder = _LineBuilder()
    parser = DefusedXMLParser(target=builder, forbid_dtd=True)
    builder.parser = parser
    try:
        parser.feed(data)
        root = parser.close()
    except ParseError as exc:
        line, col = exc.position
        raise MalListError(
            f"not well-formed XML ({exc.msg})", f"line {line}, column {col}"
        ) from None
    except DefusedXmlException as exc:
        raise MalListError(
            f"DTDs and entity declarations are refused ({type(exc).__name__})"
        ) from None
    return root, builder.lines


def _text(el: Element, tag: str) -> str | None:
    child = el.find(tag)
    return None if child is None or child.text is None else child.text.strip()


def parse_mal_export(data: bytes, *, max_entries: int = MAX_ENTRIES) -> list[ListEntry]:
    """The ``<anime>`` entries of a MAL export (``<myanimelist><anime>…``), in file order."""
    root, lines = _xml_root(read_list_bytes(data))
    if root.tag != "myanimelist":
        raise MalListError(
            f"the root element is <{root.tag}>, not <myanimelist> (is this a MAL list export?)",
            f"line {lines.get(id(root), 1)}",
        )
    entries = []
    for i, el in enumerate(root.iter("anime"), 1):
        where = f"line {lines.get(id(el), '?')}, <anime> #{i}"
        if i > max_entries:
            raise MalListError(f"more than {max_entries:,} entries", where)
        raw_id, raw_score, raw_status = (
            _text(el, t) for t in ("series_animedb_id", "my_score", "my_status")
        )
        if not raw_id or not raw_id.isdigit():
            raise MalListError(f"<series_animedb_id> is {raw_id!r}, not an anime id", where)
        where = f"{where} (series_animedb_id {raw_id})"
        score = 0 if raw_score in (None, "") else _score(raw_score, "<my_score>", where)
        entries.append(ListEntry(int(raw_id), score, _xml_status(raw_status, where)))
    return entries


def _score(raw: str, what: str, where: str) -> int:
    if not raw.isdigit() or not 0 <= int(raw) <= 10:
        raise MalListError(f"{what} is {raw!r}, not a whole number from 0 to 10", where)
    return int(raw)


def _xml_status(raw: str | None, where: str) -> ListStatus:
    if raw is None:
        raise MalListError("<my_status> is missing", where)
    status = _XML_STATUS.get(raw.casefold())
    if status is None and raw.isdigit():
        status = _CODES.get(int(raw))
    if status is None:
        known = "Completed, Watching, On-Hold, Dropped, Plan to Watch"
        raise MalListError(f"<my_status> is {raw!r}, not one of {known}", where)
    return status


# --- Kaggle animelist.csv ----------------------------------------------------------------------

KAGGLE_COLUMNS = ("user_id", "anime_id", "score", "watching_status")


def parse_kaggle_animelist(
    data: bytes, *, user_id: int | None = None, max_entries: int = MAX_ENTRIES
) -> list[ListEntry]:
    """The rows of one user of a Kaggle ``animelist.csv`` (``user_id, anime_id, score,
    watching_status[, watched_episodes]``). With several users in the file, ``user_id`` says
    which; rows of other users are skipped."""
    try:
        text = read_list_bytes(data).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MalListError(f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    reader = csv.reader(io.StringIO(text))
    header = [h.strip() for h in next(reader, [])]
    missing = [c for c in KAGGLE_COLUMNS if c not in header]
    if missing:
        raise MalListError(f"missing column(s) {', '.join(missing)}; header is {header}", "line 1")
    col = {c: header.index(c) for c in KAGGLE_COLUMNS}
    entries, users = [], set()
    for line, row in enumerate(reader, 2):
        if not row or all(not c.strip() for c in row):
            continue
        where = f"line {line}"
        if len(row) < len(header):
            raise MalListError(f"{len(row)} fields, the header has {len(header)}", where)
        cells = {c: row[i].strip() for c, i in col.items()}
        for c in ("user_id", "anime_id", "watching_status"):
            if not cells[c].isdigit():
                raise MalListError(f"{c} is {cells[c]!r}, not a whole number", where)
        uid = int(cells["user_id"])
        users.add(uid)
        if user_id is not None and uid != user_id:
            continue
        status = _CODES.get(int(cells["watching_status"]))
        if status is None:
            raise MalListError(
                f"watching_status is {cells['watching_status']}, not 1, 2, 3, 4 or 6", where
            )
        entries.append(
            ListEntry(int(cells["anime_id"]), _score(cells["score"], "score", where), status)
        )
        if len(entries) > max_entries:
            raise MalListError(f"more than {max_entries:,} entries", where)
    if user_id is None and len(users) > 1:
        shown = ", ".join(str(u) for u in sorted(users)[:5]) + (", …" if len(users) > 5 else "")
        raise MalListError(f"the file holds {len(users):,} users ({shown}); say which user_id")
    if user_id is not None and user_id not in users:
        raise MalListError(f"no rows of user_id {user_id}")
    return entries


# --- against a catalog ------------------------------------------------------------------------


def import_list(entries: Iterable[ListEntry], catalog: Catalog, *, source: str) -> ImportedList:
    """Split ``entries`` into history, exclusions, dislikes and ids the catalog lacks."""
    entries = list(entries)
    # an id past int64 is no catalog's: -1 looks up as unknown instead of overflowing
    ids = np.array([e.anime_id if e.anime_id < 2**62 else -1 for e in entries], dtype=np.int64)
    known = catalog.positions(ids) >= 0 if len(ids) else np.zeros(0, bool)
    history: dict[int, int] = {}
    excluded: set[int] = set()
    dislikes: set[int] = set()
    unknown: list[int] = []
    seen: set[int] = set()
    duplicates: list[int] = []
    statuses: dict[int, ListStatus] = {}
    for e, ok in zip(entries, known, strict=True):
        if e.anime_id in seen:
            duplicates.append(e.anime_id)
            continue
        seen.add(e.anime_id)
        if not ok:
            unknown.append(e.anime_id)
            continue
        statuses[e.anime_id] = e.status
        if e.status is ListStatus.COMPLETED and e.score > 0:
            history[e.anime_id] = e.score
        else:
            excluded.add(e.anime_id)
            if e.status is ListStatus.DROPPED:
                dislikes.add(e.anime_id)
    return ImportedList(
        history=history,
        excluded=frozenset(excluded),
        dislikes=frozenset(dislikes),
        unknown_ids=tuple(unknown),
        n_entries=len(entries),
        source=source,
        duplicate_ids=tuple(duplicates),
        statuses=statuses,
    )


def load_list(data: bytes, catalog: Catalog, *, user_id: int | None = None) -> ImportedList:
    """A MAL export or a Kaggle ``animelist.csv`` (told apart by content: XML starts with
    ``<``), read against ``catalog``."""
    plain = read_list_bytes(data)
    if plain.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        if user_id is not None:
            raise MalListError("user_id only applies to a Kaggle animelist.csv, not a MAL export")
        return import_list(parse_mal_export(plain), catalog, source="mal-xml")
    entries = parse_kaggle_animelist(plain, user_id=user_id)
    return import_list(entries, catalog, source="kaggle-csv")


def load_list_file(
    path: str | os.PathLike[str], catalog: Catalog, *, user_id: int | None = None
) -> ImportedList:
    """:func:`load_list` of a file; errors name the file."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise MalListError(f"the file is {size:,} bytes; the limit is {MAX_BYTES:,}", str(path))
        data = path.read_bytes()
    except OSError as exc:
        raise MalListError(f"cannot read the file ({exc.strerror})", str(path)) from None
    try:
        return load_list(data, catalog, user_id=user_id)
    except MalListError as exc:
        where = f"{path}: {exc.location}" if exc.location else str(path)
        raise MalListError(exc.message, where) from None
