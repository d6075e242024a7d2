"""``H.csv``: the histories ``animerec recommend --history`` ranks for, validated row by row.

A file of ``user_id,anime_id,rating`` rows (any column order, a header line, ratings 1–10, anime
of the catalog, each user's anime once). Every problem is one :class:`DataError` naming the file,
the line and the field, so a person can fix the file from the message alone.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from animerec.data.catalog import Catalog
from animerec.data.ratings import History
from animerec.errors import DataError

__all__ = ["HISTORY_COLUMNS", "read_history"]

HISTORY_COLUMNS = ("user_id", "anime_id", "rating")
_INT = re.compile(r"^\s*[+-]?\d+\s*$")


def read_history(path: Path, catalog: Catalog) -> tuple[np.ndarray, list[History]]:
    """Validate ``H.csv`` and return (user ids in file order of first appearance, histories).

    Every problem is one :class:`DataError` naming the file, the line and the field.
    """
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if path.is_dir():
        raise DataError(f"{path}: is a folder, not a CSV file")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise DataError(
            f"{path}: the file is empty (expected columns {','.join(HISTORY_COLUMNS)})"
        ) from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not a readable CSV file: {str(exc).splitlines()[0]}") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in HISTORY_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(
            f"{path}: missing column {', '.join(missing)} (header has {', '.join(frame.columns)}; "
            f"expected {','.join(HISTORY_COLUMNS)})"
        )
    if len(frame) == 0:
        raise DataError(f"{path}: no rating rows after the header")
    values = {}
    for col in HISTORY_COLUMNS:
        text = frame[col].astype(str)
        bad = ~text.str.match(_INT)
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(
                f"{path}: line {i + 2}: field {col!r}: {text.iloc[i]!r} is not an integer"
            )
        values[col] = text.astype(np.int64).to_numpy()
    rating = values["rating"]
    out_of_range = (rating < 1) | (rating > 10)
    if out_of_range.any():
        i = int(np.flatnonzero(out_of_range)[0])
        raise DataError(f"{path}: line {i + 2}: field 'rating': {rating[i]} is outside 1–10")
    anime = values["anime_id"]
    unknown = catalog.positions(anime) < 0
    if unknown.any():
        i = int(np.flatnonzero(unknown)[0])
        raise DataError(
            f"{path}: line {i + 2}: field 'anime_id': anime {anime[i]} is not in the catalog"
        )
    user = values["user_id"]
    key = pd.Series(list(zip(user.tolist(), anime.tolist(), strict=True)))
    dup = key.duplicated().to_numpy()
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        first = int(np.flatnonzero((key == key.iloc[i]).to_numpy())[0])
        raise DataError(
            f"{path}: line {i + 2}: field 'anime_id': user {user[i]} rated anime {anime[i]} "
            f"twice (first on line {first + 2})"
        )
    users, first_seen = np.unique(user, return_index=True)
    users = users[np.argsort(first_seen, kind="stable")]
    order = np.argsort(user, kind="stable")
    u_sorted = user[order]
    histories = []
    for u in users:
        rows = order[np.searchsorted(u_sorted, u) : np.searchsorted(u_sorted, u, side="right")]
        histories.append(History.of(anime[rows], rating[rows]))
    return users, histories
