"""What the Kaggle MAL 2020 files look like: file names, column names and their spelling variants."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from animerec.errors import DataError

MISSING = "Unknown"
"""MAL's spelling of a missing value."""

PLACEHOLDER_SYNOPSIS = "No synopsis information has been added to this title"


@dataclass(frozen=True)
class Column:
    """A source column: the names it goes by, the catalog column it becomes, and its kind."""

    names: tuple[str, ...]
    target: str
    kind: str = "text"  # text | int | float
    required: bool = False


ANIME_COLUMNS: tuple[Column, ...] = (
    Column(("MAL_ID",), "anime_id", "int", required=True),
    Column(("Name",), "name", required=True),
    Column(("English name",), "english_name"),
    Column(("Japanese name",), "japanese_name"),
    Column(("Type",), "type", required=True),
    Column(("Episodes",), "episodes", "int"),
    Column(("Aired",), "aired"),
    Column(("Premiered",), "premiered", required=True),
    Column(("Producers",), "producers", required=True),
    Column(("Licensors",), "licensors"),
    Column(("Studios",), "studios", required=True),
    Column(("Source",), "source", required=True),
    Column(("Duration",), "duration"),
    Column(("Rating",), "age_rating"),
    Column(("Genres", "Genders"), "genres", required=True),
    Column(("Score",), "score", "float"),
    Column(("Ranked",), "ranked", "int"),
    Column(("Popularity",), "popularity", "int"),
    Column(("Members",), "members", "int"),
    Column(("Favorites",), "favorites", "int"),
)

SYNOPSIS_COLUMNS: tuple[Column, ...] = (
    Column(("MAL_ID",), "anime_id", "int", required=True),
    Column(("sypnopsis", "synopsis", "Synopsis"), "synopsis", required=True),
)

RATING_COLUMNS = ("user_id", "anime_id", "rating")
ANIMELIST_COLUMNS = ("user_id", "anime_id", "score", "watching_status")
COMPLETED_STATUS = 2
"""``watching_status`` of a completed entry in ``animelist.csv`` (see ``watching_status.csv``)."""


def find_file(data_dir: Path, stem: str, *, required: bool = True) -> Path | None:
    """``stem`` as ``.csv`` or ``.csv.gz`` inside ``data_dir``."""
    for suffix in (".csv", ".csv.gz"):
        p = data_dir / f"{stem}{suffix}"
        if p.exists():
            return p
    if required:
        raise DataError(f"{data_dir / (stem + '.csv')}: file not found (also looked for .csv.gz)")
    return None


def resolve_columns(path: Path, header: list[str], spec: tuple[Column, ...]) -> dict[str, str]:
    """Map each catalog column to the header name present in the file; error on a missing one."""
    present = {h.strip(): h for h in header}
    found: dict[str, str] = {}
    for col in spec:
        name = next((present[n] for n in col.names if n in present), None)
        if name is not None:
            found[col.target] = name
        elif col.required:
            alts = " or ".join(repr(n) for n in col.names)
            raise DataError(f"{path}: missing required column {alts}")
    return found
