"""MAL's age rating (the ``Rating`` column) as flags, so adult titles can be kept out by default.

MAL spells ratings as ``"<code> - <words>"``: ``G - All Ages``, ``PG - Children``,
``PG-13 - Teens 13 or older``, ``R - 17+ (violence & profanity)``, ``R+ - Mild Nudity`` and
``Rx - Hentai`` (``Unknown`` when missing; ingest stores that as null in ``age_rating``).
Two of them matter to a fan who did not ask for them: ``Rx`` (**adult**, never shown unless a
request opts in) and ``R+`` (**mild nudity**, a second, separate opt-out). Anything not
recognised is :attr:`ContentRating.UNKNOWN` — except that text naming hentai still counts as
adult, so a respelling upstream cannot let such titles through.
"""

from __future__ import annotations

import enum
import re
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from animerec.data.catalog import Catalog

__all__ = [
    "ContentFlag",
    "ContentRating",
    "adult_mask",
    "content_flags",
    "excluded_mask",
    "frame_flags",
    "mild_nudity_mask",
    "parse_rating",
    "rating_flags",
]

RATING_COLUMN = "age_rating"
"""The catalog column ingest fills from MAL's ``Rating``."""


class ContentRating(enum.Enum):
    """One MAL age rating (value: MAL's code)."""

    G = "G"
    PG = "PG"
    PG13 = "PG-13"
    R = "R"
    R_PLUS = "R+"
    RX = "Rx"
    UNKNOWN = "Unknown"


class ContentFlag(enum.IntFlag):
    """What a rating warns about; a catalog holds one ``uint8`` of these per anime."""

    NONE = 0
    ADULT = 1
    MILD_NUDITY = 2


_BY_CODE = {r.value.casefold(): r for r in ContentRating}
_CODE = re.compile(r"^\s*([A-Za-z0-9+\-]+?)\s*(?:-\s|$)")
_FLAGS = {ContentRating.RX: ContentFlag.ADULT, ContentRating.R_PLUS: ContentFlag.MILD_NUDITY}


def parse_rating(text: object) -> ContentRating:
    """The rating ``text`` spells (``"Rx - Hentai"`` -> RX; missing or unrecognised -> UNKNOWN)."""
    if not isinstance(text, str) or not text.strip():
        return ContentRating.UNKNOWN
    m = _CODE.match(text)
    found = _BY_CODE.get(m.group(1).casefold()) if m else None
    if found is not None:
        return found
    return ContentRating.RX if "hentai" in text.casefold() else ContentRating.UNKNOWN


def rating_flags(values: pd.Series | list[object]) -> np.ndarray:
    """``uint8 [n]`` :class:`ContentFlag` bits of each rating text (parsed once per distinct text)."""
    s = pd.Series(values, dtype="object")
    codes = {v: int(_FLAGS.get(parse_rating(v), ContentFlag.NONE)) for v in s.dropna().unique()}
    return s.map(codes).fillna(0).to_numpy(np.uint8)


def frame_flags(frame: pd.DataFrame) -> np.ndarray:
    """``uint8 [len(frame)]`` flags of a catalog table's rows, all clear when it has no
    ``age_rating`` column (a hand-built test catalog; ingest always writes it)."""
    if RATING_COLUMN not in frame:
        return np.zeros(len(frame), np.uint8)
    return rating_flags(frame[RATING_COLUMN].astype("object"))


def content_flags(catalog: Catalog) -> np.ndarray:
    """``uint8 [len(catalog)]`` flags per catalog position (computed once per catalog)."""
    return catalog.content_flags


def adult_mask(catalog: Catalog) -> np.ndarray:
    """``bool [len(catalog)]``: rated Rx - Hentai."""
    return (content_flags(catalog) & ContentFlag.ADULT) != 0


def mild_nudity_mask(catalog: Catalog) -> np.ndarray:
    """``bool [len(catalog)]``: rated R+ - Mild Nudity."""
    return (content_flags(catalog) & ContentFlag.MILD_NUDITY) != 0


def excluded_mask(
    catalog: Catalog, *, include_adult: bool = False, include_mild_nudity: bool = True
) -> np.ndarray:
    """``bool [len(catalog)]``: titles a request's content settings keep out (the safe default
    drops adult titles and keeps mild nudity)."""
    flags = content_flags(catalog)
    out = np.zeros(len(catalog), bool)
    if not include_adult:
        out |= (flags & ContentFlag.ADULT) != 0
    if not include_mild_nudity:
        out |= (flags & ContentFlag.MILD_NUDITY) != 0
    return out
