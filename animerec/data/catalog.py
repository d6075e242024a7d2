"""The anime catalog: one row per anime, metadata with `Unknown` turned into missing values."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

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

    def positions(self, anime_ids: np.ndarray | list[int]) -> np.ndarray:
        """Catalog positions of ``anime_ids`` (-1 where an id is not in the catalog)."""
        return self._position.get_indexer(np.asarray(anime_ids, dtype=np.int64))

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
