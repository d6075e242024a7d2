"""Uniform item filters over catalog metadata, applied by the ranking step for every model.

Declared once as a :class:`Filters` value (hashable, so its mask is computed once per catalog)
and turned into the ``allow`` mask of :func:`animerec.recommend.ranking.rank`, the way implicit's
``items=`` / ``filter_items=`` work for every model alike. Filters that are not set cost nothing:
:meth:`Filters.mask` returns ``None`` when nothing is filtered.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from animerec.data.catalog import Catalog
from animerec.data.content_rating import adult_mask, mild_nudity_mask
from animerec.recommend.explore import genre_matrix

__all__ = ["TYPES", "SEASONS", "Filters", "FilterError"]

TYPES = ("TV", "Movie", "OVA", "ONA", "Special", "Music")
SEASONS = ("Winter", "Spring", "Summer", "Fall")

_cache: dict[tuple[int, Filters], tuple[weakref.ref, np.ndarray | None]] = {}


class FilterError(ValueError):
    """A filter value the catalog can't mean (an unknown type, season or genre; min > max)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Filters:
    """What may be recommended, whatever the model.

    ``exclude_seen`` drops what the history holds; ``exclude`` and ``allow`` are anime ids (an
    exclusion list; a candidate subset); the rest are predicates over catalog metadata.
    Adult titles ("Rx - Hentai") are excluded unless ``include_adult``; "R+ - Mild Nudity" is a
    second, separate switch.
    """

    exclude_seen: bool = True
    exclude: tuple[int, ...] = ()
    allow: tuple[int, ...] | None = None
    types: tuple[str, ...] = ()
    year_min: int | None = None
    year_max: int | None = None
    seasons: tuple[str, ...] = ()
    genres: tuple[str, ...] = ()
    exclude_genres: tuple[str, ...] = ()
    min_episodes: int | None = None
    include_adult: bool = False
    include_mild_nudity: bool = True

    def __post_init__(self) -> None:
        for f in ("exclude", "allow", "types", "seasons", "genres", "exclude_genres"):
            value = getattr(self, f)
            if value is not None and not isinstance(value, tuple):
                object.__setattr__(self, f, tuple(value))
        if bad := [t for t in self.types if t not in TYPES]:
            raise FilterError("types", f"unknown type {bad[0]!r} (one of {', '.join(TYPES)})")
        if bad := [s for s in self.seasons if s not in SEASONS]:
            raise FilterError("seasons", f"unknown season {bad[0]!r} (one of {', '.join(SEASONS)})")
        if (
            self.year_min is not None
            and self.year_max is not None
            and self.year_min > self.year_max
        ):
            raise FilterError("year_min", f"{self.year_min} is after year_max {self.year_max}")
        if self.min_episodes is not None and self.min_episodes < 0:
            raise FilterError("min_episodes", f"must be >= 0, got {self.min_episodes}")

    def mask_key(self) -> Filters:
        """These filters without the per-request lists (the part a catalog mask depends on)."""
        return Filters(
            **{f.name: getattr(self, f.name) for f in fields(self)}
            | {"exclude_seen": True, "exclude": ()}
        )

    def mask(self, catalog: Catalog) -> np.ndarray | None:
        """``bool [len(catalog)]``: what may be recommended; ``None`` when nothing is filtered
        (cached per catalog object and filter set)."""
        key = (id(catalog), self.mask_key())
        hit = _cache.get(key)
        if hit is not None and hit[0]() is catalog:
            return hit[1]
        m = self._compute(catalog)
        if len(_cache) > 256:
            _cache.clear()
        _cache[key] = (weakref.ref(catalog), m)
        return m

    def excluded_positions(self, catalog: Catalog) -> np.ndarray:
        pos = catalog.positions(np.asarray(self.exclude, np.int64))
        return pos[pos >= 0]

    def _compute(self, catalog: Catalog) -> np.ndarray | None:
        frame = catalog.frame
        ok = np.ones(len(catalog), bool)
        changed = False

        def apply(m: np.ndarray) -> None:
            nonlocal ok, changed
            ok &= m
            changed = True

        if not self.include_adult:
            apply(~adult_mask(catalog))
        if not self.include_mild_nudity:
            apply(~mild_nudity_mask(catalog))
        if self.allow is not None:
            allowed = np.zeros(len(catalog), bool)
            pos = catalog.positions(np.asarray(self.allow, np.int64))
            allowed[pos[pos >= 0]] = True
            apply(allowed)
        if self.types:
            apply(_text(frame, "type").isin(self.types).to_numpy())
        if self.year_min is not None or self.year_max is not None:
            year = years(catalog)
            lo = -np.inf if self.year_min is None else self.year_min
            hi = np.inf if self.year_max is None else self.year_max
            apply((year >= lo) & (year <= hi))
        if self.seasons:
            season = _text(frame, "premiered").str.split(" ").str[0]
            apply(season.isin(self.seasons).to_numpy())
        if self.genres or self.exclude_genres:
            vocab, m = genre_matrix(catalog)
            index = {g.lower(): i for i, g in enumerate(vocab)}
            for field, names in (("genres", self.genres), ("exclude_genres", self.exclude_genres)):
                if bad := [g for g in names if g.lower() not in index]:
                    raise FilterError(field, f"unknown genre {bad[0]!r}")
            if self.genres:
                apply(m[:, [index[g.lower()] for g in self.genres]].any(axis=1))
            if self.exclude_genres:
                apply(~m[:, [index[g.lower()] for g in self.exclude_genres]].any(axis=1))
        if self.min_episodes is not None:
            eps = pd.to_numeric(frame.get("episodes"), errors="coerce").to_numpy(np.float64)
            apply(np.nan_to_num(eps, nan=-1) >= self.min_episodes)
        return ok if changed else None


def years(catalog: Catalog) -> np.ndarray:
    """``float [len(catalog)]``: the year an anime first aired (``nan`` where unknown)."""
    text = _text(catalog.frame, "aired")
    first = text.str.extract(r"((?:19|20)\d\d)", expand=False)
    return pd.to_numeric(first, errors="coerce").to_numpy(np.float64)


def _text(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame:
        return pd.Series([""] * len(frame), index=frame.index, dtype=object)
    return frame[column].fillna("").astype(str)
