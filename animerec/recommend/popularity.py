"""The floor every other model must beat: the anime most training users promoted."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Self

import numpy as np

from animerec.data.catalog import Catalog
from animerec.data.ratings import History, Ratings
from animerec.recommend.base import Recommender
from animerec.recommend.explain import popular_reason


class Popularity(Recommender):
    """Scores an anime by how many training users rated it ``min_rating`` or more.

    Anime no training user rated score ``-inf``; the same list goes to everyone (minus what they
    have seen).
    """

    name: ClassVar[str] = "popularity"
    search_space: ClassVar[dict[str, list]] = {"min_rating": [8, 9]}

    @dataclass
    class Params:
        min_rating: int = 9
        """A training user "promotes" an anime by rating it this or more."""

    def __init__(self, params: Params | None = None) -> None:
        self.params = params or self.Params()
        self.fans: np.ndarray | None = None
        """``float32 [len(catalog)]`` promoter counts, ``-inf`` for anime nobody rated."""

    def fit(self, train: Ratings, catalog: Catalog) -> Self:
        pos = catalog.positions(train.anime_id)
        known = pos >= 0
        promoted = known & (train.rating >= self.params.min_rating)
        fans = np.bincount(pos[promoted], minlength=len(catalog)).astype(np.float32)
        rated = np.bincount(pos[known], minlength=len(catalog)) > 0
        fans[~rated] = -np.inf
        self.fans, self.catalog = fans, catalog
        return self

    def score(self, histories: Sequence[History]) -> np.ndarray:
        self.fitted_catalog()
        return np.broadcast_to(self.fans, (len(histories), len(self.fans))).copy()

    def reasons(self, history: History, anime_ids: np.ndarray, scores: np.ndarray) -> list[str]:
        catalog = self.fitted_catalog()
        fans = self.fans[catalog.positions(anime_ids)]
        return [popular_reason(int(n), self.params.min_rating) for n in fans]

    def state(self) -> dict[str, np.ndarray]:
        return {"anime_ids": self.fitted_catalog().anime_ids, "fans": self.fans}

    def set_state(self, arrays: dict[str, np.ndarray], catalog: Catalog) -> None:
        fans = np.full(len(catalog), -np.inf, np.float32)
        pos = catalog.positions(arrays["anime_ids"])
        fans[pos[pos >= 0]] = arrays["fans"][pos >= 0]
        self.fans, self.catalog = fans, catalog
