"""Small synthetic data and a popularity-like recommender for the evaluation tests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Self

import numpy as np
import pandas as pd

from animerec.data.catalog import Catalog
from animerec.data.ratings import History, Ratings
from animerec.recommend.base import Recommender

WORDS = [
    "Alpha",
    "Bravo",
    "Charlie",
    "Delta",
    "Echo",
    "Foxtrot",
    "Golf",
    "Hotel",
    "India",
    "Juliett",
    "Kilo",
    "Lima",
    "Mike",
    "November",
    "Oscar",
    "Papa",
    "Quebec",
    "Romeo",
    "Sierra",
    "Tango",
    "Uniform",
    "Victor",
    "Whiskey",
    "Xray",
    "Yankee",
    "Zulu",
]
GENRES = ["Action", "Comedy", "Drama", "Romance", "Sci-Fi"]


def synthetic(
    n_users: int = 90, n_items: int = 40, n_cold: int = 5, seed: int = 0
) -> tuple[Ratings, Catalog]:
    """Users rate a popularity-skewed subset of items; item quality decides the rating.

    The last ``n_cold`` catalog items are rated only by the protocol's test users (seed 42), so
    they are cold-start items with held-out ratings. Names come in franchises ("Delta", "Delta Season 2").
    """
    rng = np.random.default_rng(seed)
    ids = np.arange(100, 100 + n_items, dtype=np.int64)
    quality = rng.uniform(-1, 1, n_items)
    weight = np.linspace(3.0, 0.2, n_items - n_cold)
    weight /= weight.sum()
    # the protocol's test users (DESIGN §5, step 1) are the only ones who rate the cold items
    perm = np.random.default_rng(42).permutation(np.arange(1, n_users + 1))
    test_users = set(perm[: round(0.3 * n_users)].tolist())
    users, items, ratings = [], [], []
    for u in range(1, n_users + 1):
        n = int(rng.integers(12, 25))
        chosen = rng.choice(n_items - n_cold, size=n, replace=False, p=weight)
        r = np.clip(np.round(6.5 + 3 * quality[chosen] + rng.normal(0, 1, n)), 1, 10)
        if u in test_users:
            cold = np.flatnonzero(rng.random(n_cold) < 0.5) + n_items - n_cold
            chosen = np.concatenate([chosen, cold])
            r = np.concatenate([r, rng.integers(7, 11, len(cold))])
        users += [u] * len(chosen)
        items += list(ids[chosen])
        ratings += list(r.astype(int))
    names = [
        f"{WORDS[(i // 2) % len(WORDS)]} {i // 2 // len(WORDS) or ''}".strip()
        for i in range(n_items)
    ]
    names = [n + (" Season 2" if i % 2 else "") for i, n in enumerate(names)]
    frame = pd.DataFrame(
        {
            "anime_id": ids,
            "name": names,
            "genres": [", ".join(rng.choice(GENRES, 2, replace=False)) for _ in range(n_items)],
            "popularity": np.arange(1, n_items + 1),
        }
    )
    return Ratings.from_arrays(users, items, ratings), Catalog(frame)


class CountPop(Recommender):
    """Ranks items by their number of training ratings ≥ ``min_rating`` (unrated: unscorable)."""

    name: ClassVar[str] = "countpop"
    search_space: ClassVar[dict[str, list]] = {"min_rating": [1, 9], "reverse": [False, True]}

    @dataclass
    class Params:
        min_rating: int = 9
        reverse: bool = False
        """Rank the least popular first (a deliberately bad setting for tuning to reject)."""

    fit_calls: ClassVar[list[Ratings]] = []

    def __init__(self, params: Params | None = None) -> None:
        self.params = params or self.Params()
        self.counts: np.ndarray | None = None

    def fit(self, train: Ratings, catalog: Catalog) -> Self:
        type(self).fit_calls.append(train)
        pos = catalog.positions(train.anime_id)
        keep = (pos >= 0) & (train.rating >= self.params.min_rating)
        counts = np.bincount(pos[keep], minlength=len(catalog)).astype(np.float32)
        rated = np.bincount(pos[pos >= 0], minlength=len(catalog)) > 0
        counts = -counts if self.params.reverse else counts
        self.counts = np.where(rated, counts, -np.inf).astype(np.float32)
        self.catalog = catalog
        return self

    def score(self, histories: Sequence[History]) -> np.ndarray:
        self.fitted_catalog()
        return np.tile(self.counts, (len(histories), 1))

    def state(self) -> dict[str, np.ndarray]:
        return {"counts": self.counts}
