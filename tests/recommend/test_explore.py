"""Exploration re-ranking: explore=0 is the plain top k; more explore = more diverse, less popular."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Self

import numpy as np
import pandas as pd
import pytest

from animerec.data.catalog import Catalog
from animerec.data.ratings import History, Ratings
from animerec.recommend.base import Recommender
from animerec.recommend.explore import (
    explored_reasons,
    genre_vectors,
    new_genres,
    novelty,
    rerank,
)
from animerec.recommend.ranking import top_k


def catalog_of(n: int, genres: Sequence[str] | None = None) -> Catalog:
    return Catalog(
        pd.DataFrame(
            {
                "anime_id": np.arange(1, n + 1) * 10,
                "name": [f"A{i}" for i in range(n)],
                "genres": list(genres) if genres is not None else ["Action"] * n,
                "popularity": np.arange(1, n + 1),
            }
        )
    )


def test_explore_zero_is_top_k_exactly() -> None:
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 5, (7, 40)).astype(np.float32)  # many ties
    scores[rng.random(scores.shape) < 0.3] = -np.inf
    cat = catalog_of(40)
    np.testing.assert_array_equal(rerank(scores, 10, explore=0.0, catalog=cat), top_k(scores, 10))


def test_hand_worked_mmr() -> None:
    # a, b share a direction, c, d the other; popularity rank 1..4 (a most popular).
    vectors = np.array([[1, 0], [1, 0], [0, 1], [0, 1]], np.float32)
    scores = np.array([[4, 3, 2, 1]], np.float32)
    cat = catalog_of(4)
    # relevance (min-max) 1, 2/3, 1/3, 0; novelty log(p)/log(4) = 0, .5, .79, 1.
    # explore .5: gain = .5 rel + .25 nov = .5, .458, .365, .25; penalty .25 × max similarity.
    # pick a; then b .208 < c .365 → c; then b .208 > d 0 → b; then d.
    got = rerank(scores, 4, explore=0.5, catalog=cat, vectors=vectors)
    np.testing.assert_array_equal(got, [[0, 2, 1, 3]])
    np.testing.assert_array_equal(rerank(scores, 4, explore=0.0, catalog=cat), [[0, 1, 2, 3]])


def test_novelty_scale() -> None:
    cat = catalog_of(4)
    np.testing.assert_allclose(novelty(cat), np.log([1, 2, 3, 4]) / np.log(4), rtol=1e-6)
    # Missing / 0 ranks count as least popular.
    np.testing.assert_allclose(novelty(cat, np.array([1, 0, np.nan, 4.0])), [0, 1, 1, 1])


def test_more_explore_means_more_diverse_and_less_popular() -> None:
    n = 60
    rng = np.random.default_rng(1)
    # Six clusters of ten near-identical items; the most relevant (and popular) in cluster 0.
    centers = rng.normal(size=(6, 8))
    vectors = np.repeat(centers, 10, axis=0) + 0.01 * rng.normal(size=(n, 8))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    scores = np.linspace(10, 1, n, dtype=np.float32)[None, :].repeat(3, axis=0)
    cat = catalog_of(n)
    sims = vectors @ vectors.T

    def diversity_and_rank(top: np.ndarray) -> tuple[float, float]:
        s = sims[np.ix_(top[0], top[0])]
        off = s[~np.eye(len(top[0]), dtype=bool)]
        return float(off.mean()), float(top.mean() + 1)  # popularity rank = position + 1

    base_sim, base_rank = diversity_and_rank(top_k(scores, 10))
    prev_sim, prev_rank = base_sim, base_rank
    for x in (0.3, 1.0):
        got = rerank(scores, 10, explore=x, catalog=cat, vectors=vectors)
        assert got.shape == (3, 10)
        assert all(len(set(row)) == 10 for row in got.tolist())
        assert got.max() < 50  # never outside the pool (max(5k, 50) best-scored)
        sim, rank = diversity_and_rank(got)
        assert sim < prev_sim and rank > prev_rank
        prev_sim, prev_rank = sim, rank
    assert base_sim > 0.9  # plain top 10 is one cluster


def test_infinite_scores_fill_the_tail_only() -> None:
    scores = np.full((2, 30), -np.inf, np.float32)
    scores[0, [3, 7, 11]] = [3.0, 2.0, 1.0]
    cat = catalog_of(30)
    got = rerank(scores, 5, explore=0.8, catalog=cat)
    assert got.shape == (2, 5)
    assert set(got[0, :3].tolist()) == {3, 7, 11}
    assert all(len(set(r)) == 5 for r in got.tolist())
    with pytest.raises(ValueError):
        rerank(scores, 5, explore=1.5, catalog=cat)


def test_genre_vectors_and_new_genres() -> None:
    cat = catalog_of(3, ["Action, Mecha", "Action", None])
    v = genre_vectors(cat)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), [1, 1, 0], atol=1e-6)
    hist = History.of([20], [10])  # has only Action
    assert new_genres(hist, np.array([0, 1, 2]), cat) == [["Mecha"], [], []]
    why = explored_reasons(hist, np.array([0, 1]), np.array([1, 2]), ["r0", "r1"], cat)
    assert why == ["new to you: Mecha — r0", "r1"]


class _Fixed(Recommender):
    """Scores every user the same way; exposes its own item vectors."""

    name: ClassVar[str] = "fixed"

    def __init__(self, scores: np.ndarray, vectors: np.ndarray) -> None:
        self._s, self._v = scores, vectors

    def fit(self, train: Ratings, catalog: Catalog) -> Self:
        self.catalog = catalog
        return self

    def score(self, histories):
        return np.repeat(self._s[None, :], len(histories), axis=0)

    def reasons(self, history, anime_ids, scores):
        return ["because"] * len(anime_ids)

    def item_vectors(self):
        return self._v


def test_recommend_uses_model_vectors_and_says_what_is_new() -> None:
    cat = catalog_of(4, ["Action", "Action", "Mecha", "Action"])
    vectors = np.array([[1, 0], [1, 0], [0, 1], [0, 1]], np.float32)
    model = _Fixed(np.array([4, 3, 2, 1], np.float32), vectors).fit(
        Ratings.from_arrays([], [], []), cat
    )
    hist = History.of(
        [999], [10]
    )  # unknown anime: every genre is new, but only explored items say so
    plain = model.recommend([hist], 2)[0]
    assert [r.anime_id for r in plain] == [10, 20] and all(r.reason == "because" for r in plain)
    explored = model.recommend([hist], 2, explore=0.5)[0]
    assert [r.anime_id for r in explored] == [10, 30]
    assert explored[0].reason == "because"
    assert explored[1].reason == "new to you: Mecha — because"
