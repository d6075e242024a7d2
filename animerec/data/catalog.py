"""The anime catalog: one row per anime, metadata with `Unknown` turned into missing values."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from animerec.data.content_rating import frame_flags

# Normalised column names of the catalog table in the workspace (anime.parquet), in order.
CATALOG_COLUMNS = [
    "anime_id",
    "name",
    "english_name",
    "japanese_name",
    "type",
    "episodes",
    "aired",
    "premiered",
    "producers",
    "licensors",
    "studios",
    "source",
    "duration",
    "age_rating",
    "genres",
    "synopsis",
    "score",
    "ranked",
    "popularity",
    "members",
    "favorites",
]

MAX_TABLE_ID = 1_000_000
"""Ids up to this (or up to 64 × the catalog size) get a dense :attr:`Catalog.position_table`
(8 MB at most for small catalogs; MAL ids are below 50,000)."""


@dataclass(frozen=True)
class Catalog:
    """Metadata of every anime, indexed by MAL id.

    ``frame`` has the columns of :data:`CATALOG_COLUMNS`; text fields are ``None`` where MAL said
    ``Unknown``. Recommenders score over :attr:`anime_ids` in this order, so a position in a score
    vector is a position in the catalog.
    """

    frame: pd.DataFrame

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> Catalog:
        return cls(pd.read_parquet(path))

    def __len__(self) -> int:
        return len(self.frame)

    @cached_property
    def anime_ids(self) -> np.ndarray:
        return self.frame["anime_id"].to_numpy(np.int64)

    @cached_property
    def _position(self) -> pd.Index:
        return pd.Index(self.anime_ids)

    @cached_property
    def position_table(self) -> np.ndarray | None:
        """``int64 [max id + 1]``: anime id -> catalog position (-1 for ids not in the catalog),
        or None when the ids are not unique, negative or too sparse for a dense table.

        Request paths look up a few ids per call: indexing this table is a few microseconds,
        a pandas ``get_indexer`` a tenth of a millisecond."""
        ids = self.anime_ids
        if len(ids) == 0 or ids.min() < 0 or ids.max() > max(MAX_TABLE_ID, 64 * len(ids)):
            return None
        table = np.full(int(ids.max()) + 1, -1, np.int64)
        table[ids] = np.arange(len(ids), dtype=np.int64)
        if (table >= 0).sum() != len(ids):  # duplicate ids: pandas says what is wrong
            return None
        return table

    def positions(self, anime_ids: np.ndarray | list[int]) -> np.ndarray:
        """Catalog positions of ``anime_ids`` (-1 where an id is not in the catalog)."""
        ids = np.asarray(anime_ids, dtype=np.int64)
        table = self.position_table
        if table is None or ids.ndim != 1:
            return self._position.get_indexer(ids)
        inside = (ids >= 0) & (ids < len(table))
        if inside.all():
            return table[ids]
        return np.where(inside, table[np.where(inside, ids, 0)], -1)

    def __contains__(self, anime_id: object) -> bool:
        return anime_id in self._position

    def row(self, anime_id: int) -> pd.Series:
        pos = self.positions([anime_id])[0]
        if pos < 0:
            raise KeyError(f"anime_id {anime_id} is not in the catalog")
        return self.frame.iloc[pos]

    def name(self, anime_id: int) -> str:
        return str(self.row(anime_id)["name"])

    @cached_property
    def names(self) -> np.ndarray:
        return self.frame["name"].astype(str).to_numpy()

    @cached_property
    def content_flags(self) -> np.ndarray:
        """``uint8 [n]`` :class:`~animerec.data.content_rating.ContentFlag` bits per position
        (adult, mild nudity), read-only; computed once because every request filters on it."""
        flags = frame_flags(self.frame)
        flags.setflags(write=False)
        return flags
