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
from animerec.recommend.content import ContentRecommender
from animerec.recommend.context import Context, FitPool
from animerec.recommend.ease import EASE
from animerec.recommend.hybrid import (
    FUSION_CACHE,
    HybridRecommender,
    ItemPriors,
    learn_weights,
    ndcg_at_k,
    standardise,
)
from animerec.recommend.itemknn import ItemKNN
from animerec.workspace import Workspace

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
    # reasons in words, honest about thin evidence
    model.priors.raters[0] = 10
    assert model._prior_reason("quality", 0) == "few fans have rated it yet"
    model.priors.raters[0] = 500
    assert model._prior_reason("quality", 0) == "fans who watched it rate it highly"
    assert model._prior_reason("popularity", 0) == "popular with fans"


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
    # The member served: all training users; the one the weights are learned with: those minus
    # the validation users (first the served fit, whose vectors key the fusion cache).
    assert len(seen) == 2
    assert len(seen[1]) < len(seen[0]) == len(np.unique(train.user_id))
    assert model.validation["n_users"] == len(seen[0]) - len(seen[1])


def test_bad_params() -> None:
    with pytest.raises(AnimerecError, match="twice"):
        HybridRecommender(HybridRecommender.Params(members=("ease", "ease")))
    with pytest.raises(AnimerecError, match="prior"):
        HybridRecommender(HybridRecommender.Params(priors=("age",)))
    with pytest.raises(AnimerecError, match="own member"):
        HybridRecommender(HybridRecommender.Params(members=("hybrid",)))


def registered(ws: Workspace, **params) -> HybridRecommender:
    """A hybrid of two registered models (the fusion cache needs models it can key)."""
    p = HybridRecommender.Params(members=("ease", "itemknn"), tune_members=False, **params)
    return HybridRecommender(p, context=Context(ws))


def test_learned_fusion_is_cached_per_data_and_settings(tmp_path, monkeypatch) -> None:
    train, catalog = synthetic()
    ws = Workspace(tmp_path)
    learned = []
    real = HybridRecommender._learn

    def counting(self, *args):
        learned.append(1)
        return real(self, *args)

    monkeypatch.setattr(HybridRecommender, "_learn", counting)
    first = registered(ws).fit(train, catalog)
    assert len(learned) == 1 and (tmp_path / "tuning" / f"{FUSION_CACHE}.json").exists()
    again = registered(ws).fit(train, catalog)  # same data, same settings: nothing learnt
    assert len(learned) == 1
    assert again.weights.tobytes() == first.weights.tobytes()
    assert again.alpha == first.alpha and again.validation == first.validation
    h = History.of(catalog.anime_ids[[0, 3, 6]], [10, 9, 10])
    assert again.recommend([h], 5) == first.recommend([h], 5)
    registered(ws, debias=(0.0,)).fit(train, catalog)  # another setting: learnt
    assert len(learned) == 2
    registered(ws).fit(train.take(train.user_id != 1), catalog)  # other data: learnt
    assert len(learned) == 3
    p = HybridRecommender.Params(members=("ease", "itemknn"), tune_members=False)
    HybridRecommender(p, context=Context(ws, retune=True)).fit(train, catalog)  # learn again
    assert len(learned) == 4
    registered(ws).fit(train, catalog)
    assert len(learned) == 4
    # Members made by factories can't be keyed: never cached.
    hybrid(priors=()).fit(train, catalog)
    hybrid(priors=()).fit(train, catalog)
    assert len(learned) == 6


def test_fit_pool_shares_only_identical_fits() -> None:
    train, catalog = synthetic()
    pool = FitPool()
    ease = pool.fit(EASE(), train, catalog)
    assert ease.catalog is catalog
    assert pool.fit(EASE(), train, catalog) is ease
    assert pool.fit(EASE(EASE.Params(l2=10.0)), train, catalog) is not ease
    copy = train.take(np.ones(len(train), bool))  # equal ratings, another object: not shared
    assert pool.fit(EASE(), copy, catalog) is not ease
    vectors = np.eye(len(catalog), 8, dtype=np.float32)
    content = ContentRecommender(vectors=vectors)
    assert pool.fit(content, train, catalog) is content
    assert pool.fit(ContentRecommender(vectors=vectors.copy()), train, catalog) is content
    assert pool.fit(ContentRecommender(vectors=vectors[::-1]), train, catalog) is not content


def test_hybrid_takes_members_from_the_pool(tmp_path) -> None:
    train, catalog = synthetic()
    pool = FitPool()
    ease = pool.fit(EASE(), train, catalog)
    p = HybridRecommender.Params(members=("ease", "itemknn"), tune_members=False)
    pooled = HybridRecommender(p, context=Context(Workspace(tmp_path / "a"), pool))
    pooled.fit(train, catalog)
    assert pooled.members["ease"] is ease
    assert pool.get(ItemKNN(), train, catalog) is pooled.members["itemknn"]
    alone = registered(Workspace(tmp_path / "b")).fit(train, catalog)
    assert alone.members["ease"].B.tobytes() == ease.B.tobytes()
    assert alone.weights.tobytes() == pooled.weights.tobytes()


def test_standardise_over_the_head_equals_a_plain_computation() -> None:
    """Rows mostly −inf (a member scoring a quarter of the catalog), seen anime, NaN: the mean
    and spread of each row's best unseen finite entries, computed here one row at a time."""
    rng = np.random.default_rng(3)
    s = rng.normal(size=(6, 500)).astype(np.float32)
    s[:, rng.random(500) < 0.75] = -np.inf
    s[1, :] = -np.inf
    s[1, :20] = np.arange(20)  # fewer finite entries than the head
    s[2, 5] = np.nan
    s[3] = 1.0  # no spread
    seen = rng.random((6, 500)) < 0.1
    z = standardise(s, seen, head=50)
    for i in range(6):
        row = np.where(np.isnan(s[i]), -np.inf, s[i])
        pool = np.sort(row[~seen[i] & np.isfinite(row)])[::-1][:50].astype(np.float64)
        mean, sd = pool.mean(), pool.std()
        if sd == 0:
            assert (z[i] == 0).all()
            continue
        fin = np.isfinite(row)
        np.testing.assert_allclose(z[i, fin], (row[fin] - mean) / sd, rtol=1e-4, atol=1e-5)
        assert np.allclose(z[i, ~fin], ((row[fin].min() - mean) / sd), atol=1e-5)
