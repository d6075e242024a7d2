"""The hybrid learns its fusion weights on validation users: the member with the signal wins."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Self

import numpy as np
import pandas as pd
import pytest

from animerec.data.catalog import Catalog
from animerec.data.ratings import History, Ratings
from animerec.errors import AnimerecError
from animerec.recommend.base import Recommender
from animerec.recommend.hybrid import (
    HybridRecommender,
    ItemPriors,
    learn_weights,
    ndcg_at_k,
    standardise,
)

N_ITEMS, N_CLUSTERS = 60, 3


def synthetic(n_users: int = 150, seed: int = 0) -> tuple[Ratings, Catalog]:
    """Each user loves one cluster of anime (rates them 9–10) and rates others 3–6."""
    rng = np.random.default_rng(seed)
    ids = np.arange(1, N_ITEMS + 1) * 10
    cluster = np.arange(N_ITEMS) % N_CLUSTERS
    users, items, ratings = [], [], []
    for u in range(n_users):
        taste = u % N_CLUSTERS
        loved = rng.choice(np.flatnonzero(cluster == taste), 12, replace=False)
        other = rng.choice(np.flatnonzero(cluster != taste), 8, replace=False)
        users += [u + 1] * 20
        items += list(ids[loved]) + list(ids[other])
        ratings += list(rng.integers(9, 11, 12)) + list(rng.integers(3, 7, 8))
    frame = pd.DataFrame(
        {
            "anime_id": ids,
            "name": [f"Show {i}" for i in range(N_ITEMS)],
            "genres": [["Action", "Drama", "Mecha"][c] for c in cluster],
            "popularity": rng.permutation(N_ITEMS) + 1,
        }
    )
    return Ratings.from_arrays(users, items, ratings), Catalog(frame)


class Cluster(Recommender):
    """Knows the clusters: scores an anime by how many loved anime of its cluster a user has."""

    name: ClassVar[str] = "cluster"

    def fit(self, train: Ratings, catalog: Catalog) -> Self:
        self.catalog = catalog
        return self

    def score(self, histories: Sequence[History]) -> np.ndarray:
        cluster = np.arange(len(self.catalog)) % N_CLUSTERS
        out = np.zeros((len(histories), len(self.catalog)), np.float32)
        for i, h in enumerate(histories):
            pos = self.catalog.positions(h.anime_ids[h.ratings >= 9])
            votes = np.bincount(cluster[pos], minlength=N_CLUSTERS)
            out[i] = votes[cluster] + 0.01 * np.sin(np.arange(len(self.catalog)))
        return out

    def reasons(self, history, anime_ids, scores):
        return ["same cluster"] * len(anime_ids)


class Noise(Recommender):
    """Scores at random (seeded by the history): carries no signal."""

    name: ClassVar[str] = "noise"

    def fit(self, train: Ratings, catalog: Catalog) -> Self:
        self.catalog = catalog
        return self

    def score(self, histories: Sequence[History]) -> np.ndarray:
        return np.stack(
            [
                np.random.default_rng(int(h.anime_ids.sum())).normal(size=len(self.catalog))
                for h in histories
            ]
        ).astype(np.float32)

    def reasons(self, history, anime_ids, scores):
        return ["noise"] * len(anime_ids)


def hybrid(**params) -> HybridRecommender:
    p = HybridRecommender.Params(members=("noise", "cluster"), **params)
    return HybridRecommender(p, factories={"noise": Noise, "cluster": Cluster})


def test_standardise() -> None:
    s = np.array([[1.0, 2.0, 3.0, -np.inf], [5.0, 5.0, 5.0, 5.0]], np.float32)
    z = standardise(s)
    np.testing.assert_allclose(z[0, :3], [-1.2247449, 0, 1.2247449], rtol=1e-5)
    assert z[0, 3] == pytest.approx(z[0, :3].min())  # unscorable: the row's lowest
    assert (z[1] == 0).all()
    # Over the row's head: the 3 best unseen entries set mean and spread.
    row = np.array([[10.0, 9.0, 8.0, 1.0, 0.0, -np.inf]], np.float32)
    z3 = standardise(row, np.zeros_like(row, bool), head=3)
    sd = np.std([10.0, 9.0, 8.0])
    np.testing.assert_allclose(z3[0, :5], (row[0, :5] - 9.0) / sd, rtol=1e-5)
    assert z3[0, 5] == pytest.approx((0.0 - 9.0) / sd)
    seen = np.array([[True, False, False, False, False, False]])
    zs = standardise(row, seen, head=3)  # the seen 10 is left out of the statistics
    sd = np.std([9.0, 8.0, 1.0])
    np.testing.assert_allclose(zs[0, :5], (row[0, :5] - 6.0) / sd, rtol=1e-5)


def test_ndcg_at_k_by_hand() -> None:
    fused = np.array([[3.0, 2.0, 1.0, 0.0]], np.float32)
    relevant = np.array([[False, True, False, True]])
    # hits at ranks 2 and 4 of k=2 → DCG = 1/log2(3); IDCG(min(2, 2)) = 1 + 1/log2(3).
    expected = (1 / np.log2(3)) / (1 + 1 / np.log2(3))
    assert ndcg_at_k(fused, relevant, relevant.sum(axis=1), 2) == pytest.approx(expected)


def test_learn_weights_finds_the_combination() -> None:
    # Relevant anime: 0, 1. Feature 0 marks {0, 1, 2, 3}, feature 1 marks {0, 1, 4, 5}:
    # alone each ties relevant with decoys; their sum ranks exactly the relevant ones first.
    n_items = 12
    rel = np.zeros((1, n_items), bool)
    rel[0, [0, 1]] = True
    f0 = np.zeros((1, n_items), np.float32)
    f0[0, [0, 1, 2, 3]] = 1
    f0[0, [3, 2]] += [0.01, 0.02]  # decoys slightly ahead
    f1 = np.zeros((1, n_items), np.float32)
    f1[0, [0, 1, 4, 5]] = 1
    f1[0, [4, 5]] += [0.01, 0.02]
    noise = np.random.default_rng(0).normal(size=(1, n_items)).astype(np.float32)
    seen = np.zeros_like(rel)
    w, best, trace = learn_weights([f0, noise, f1], rel, seen, k=2)
    assert best == pytest.approx(1.0)
    assert w[0] == 1.0 and w[2] > 0
    assert len(trace) > 3


def test_hybrid_learns_a_larger_weight_for_the_member_with_signal() -> None:
    train, catalog = synthetic()
    model = hybrid(priors=()).fit(train, catalog)
    w = dict(zip(model.feature_names, model.weights.tolist(), strict=True))
    assert w["cluster"] > abs(w["noise"])
    assert model.validation["ndcg"] > model.validation["single"]["noise"]
    # The fused model recommends the user's loved cluster, and says why through the member.
    cluster = np.arange(N_ITEMS) % N_CLUSTERS
    h = History.of(catalog.anime_ids[[0, 3, 6, 9]], [10, 10, 9, 9])  # cluster 0
    recs = model.recommend([h], 5)[0]
    pos = catalog.positions([r.anime_id for r in recs])
    assert (cluster[pos] == 0).all()
    assert all(r.reason == "same cluster" for r in recs)
    # Reasons from the parts score() kept equal reasons computed afresh.
    ids = np.array([r.anime_id for r in recs])
    fresh = hybrid(priors=()).fit(train, catalog)  # never scored: computes its contributions
    assert fresh.reasons(h, ids, np.zeros(len(ids))) == [r.reason for r in recs]
    batch = model.recommend([h, History.of(catalog.anime_ids[[1, 4]], [10, 10])], 3)
    assert [r.anime_id for r in batch[0]] == [r.anime_id for r in recs[:3]]


def test_priors_are_features_and_explain() -> None:
    train, catalog = synthetic()
    priors = ItemPriors.of(train, catalog)
    q = priors.quality()
    assert q.shape == (N_ITEMS,) and (q > 0).all() and (q < 1).all()
    z = priors.feature("popularity")
    assert abs(float(z[priors.raters > 0].mean())) < 1e-5
    model = hybrid().fit(train, catalog)
    assert model.feature_names == ["noise", "cluster", "quality", "popularity"]
    assert model._prior_reason("quality", 0).endswith("rated it 9+")


def test_weights_come_from_validation_users_only() -> None:
    train, catalog = synthetic()
    seen: list[np.ndarray] = []

    class Spy(Cluster):
        def fit(self, tr: Ratings, cat: Catalog) -> Self:
            seen.append(np.unique(tr.user_id))
            return super().fit(tr, cat)

    model = HybridRecommender(
        HybridRecommender.Params(members=("spy",), priors=()), factories={"spy": Spy}
    ).fit(train, catalog)
    # First fit: training users minus the validation users; second: all of them.
    assert len(seen) == 2
    assert len(seen[0]) < len(seen[1]) == len(np.unique(train.user_id))
    assert model.validation["n_users"] == len(seen[1]) - len(seen[0])


def test_bad_params() -> None:
    with pytest.raises(AnimerecError, match="twice"):
        HybridRecommender(HybridRecommender.Params(members=("ease", "ease")))
    with pytest.raises(AnimerecError, match="prior"):
        HybridRecommender(HybridRecommender.Params(priors=("age",)))
    with pytest.raises(AnimerecError, match="own member"):
        HybridRecommender(HybridRecommender.Params(members=("hybrid",)))
