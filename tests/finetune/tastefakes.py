"""A small world for fine-tuning tests: two taste groups whose fans co-like within the group."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from animerec.data.catalog import CATALOG_COLUMNS, Catalog
from animerec.data.ratings import Ratings
from animerec.workspace import Workspace

N_ANIME = 40
N_USERS = 200
THEMES = ("robot space battle", "magic school friend")


def taste_ratings(n_users: int = N_USERS, n_anime: int = N_ANIME, seed: int = 0) -> Ratings:
    """Users of group g (= user % 2) rate half the anime: 10 for their group's anime (same
    parity), mostly a passive 7 and sometimes a 3 for the others — so same-group pairs are
    co-promoted and cross-group pairs are split."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        g = u % 2
        for a in range(n_anime):
            if rng.random() < 0.5:
                r = 10 if a % 2 == g else (3 if rng.random() < 0.2 else 7)
                rows.append((u, a + 1, r))
    return Ratings.from_arrays(*zip(*rows, strict=True))


def taste_catalog(n_anime: int = N_ANIME) -> Catalog:
    frame = pd.DataFrame({c: [None] * n_anime for c in CATALOG_COLUMNS})
    ids = np.arange(1, n_anime + 1)
    frame["anime_id"] = ids
    frame["name"] = [f"Show {i}" for i in ids]
    frame["type"] = "TV"
    frame["synopsis"] = [f"A {THEMES[i % 2]} story number {i}." for i in ids]
    frame["genres"] = ["Action" if i % 2 else "Comedy" for i in ids]
    return Catalog(frame)


def write_workspace(root: Path, ratings: Ratings, catalog: Catalog) -> Workspace:
    ws = Workspace(root)
    root.mkdir(parents=True, exist_ok=True)
    catalog.frame.to_parquet(ws.anime, index=False)
    table = pa.table(
        {
            "user_id": pa.array(ratings.user_id, pa.int64()),
            "anime_id": pa.array(ratings.anime_id, pa.int64()),
            "rating": pa.array(ratings.rating, pa.int8()),
        }
    )
    pq.write_table(table, ws.ratings)
    return ws
