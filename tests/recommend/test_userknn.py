"""User-kNN: neighbours by Jaccard or cosine of promoter sets, worked out by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from animerec.data.catalog import Catalog
from animerec.data.ratings import History, Ratings
from animerec.errors import AnimerecError
from animerec.recommend.userknn import UserKNN

IDS = [10, 20, 30, 40]  # x, y, z, w


@pytest.fixture()
def people():
    """u1 promotes {x, y}, u2 {y, z}, u3 {w}; u4 only rated x a 5 (never a neighbour)."""
    catalog = Catalog(pd.DataFrame({"anime_id": IDS, "name": ["X", "Y", "Z", "W"]}))
    train = Ratings.from_arrays([1, 1, 2, 2, 3, 4], [10, 20, 20, 30, 40, 10], [10, 9, 9, 10, 10, 5])
    return catalog, train


def test_jaccard_neighbours_and_scores_by_hand(people):
    catalog, train = people
    model = UserKNN(UserKNN.Params(neighbours=2, similarity="jaccard")).fit(train, catalog)
    h = History.of([10, 20], [10, 9])
    # J(h, u1) = 2/2 = 1, J(h, u2) = 1/3, J(h, u3) = 0 -> scores = 1·u1 + 1/3·u2
    np.testing.assert_allclose(model.score([h])[0], [1, 4 / 3, 1 / 3, 0], rtol=1e-6, atol=2e-6)
    # u4 promoted nothing, so only u1..u3 are candidates for neighbours
    assert model.P.shape == (3, 4)


def test_cosine_neighbours_by_hand(people):
    catalog, train = people
    model = UserKNN(UserKNN.Params(neighbours=2, similarity="cosine")).fit(train, catalog)
    h = History.of([10, 20], [10, 9])
    # cos(h, u1) = 2/√(2·2) = 1, cos(h, u2) = 1/√(2·2) = 1/2
    np.testing.assert_allclose(model.score([h])[0], [1, 1.5, 0.5, 0], rtol=1e-6, atol=2e-6)
    one = UserKNN(UserKNN.Params(neighbours=1, similarity="cosine")).fit(train, catalog)
    np.testing.assert_allclose(one.score([h])[0], [1, 1, 0, 0], rtol=1e-6, atol=2e-6)


def test_a_history_sharing_no_promotion_gets_the_most_promoted_anime(people):
    catalog, train = people
    model = UserKNN().fit(train, catalog)
    (rec,) = model.recommend([History.of([40], [3])], k=1)[0]
    assert rec.anime_id == 20  # y: promoted by u1 and u2, the others by one user each


def test_reason_counts_the_look_alike_fans(people):
    catalog, train = people
    model = UserKNN(UserKNN.Params(neighbours=2)).fit(train, catalog)
    (rec,) = model.recommend([History.of([10, 20], [10, 9])], k=1)[0]
    assert rec.anime_id == 30
    assert rec.reason == "1 fan with tastes like yours rated it 9+"


def test_unknown_similarity_is_refused():
    with pytest.raises(AnimerecError, match="jaccard, cosine"):
        UserKNN(UserKNN.Params(similarity="pearson"))


def test_real_sample_beats_popularity(sample_split, sample_catalog, ndcg_at_10, popularity_ndcg):
    model = UserKNN().fit(sample_split.train, sample_catalog)
    ndcg = ndcg_at_10(model)
    assert ndcg >= popularity_ndcg + 0.08, (ndcg, popularity_ndcg)


def test_a_dislike_lowers_the_fans_of_the_disliked_title_by_hand(people):
    """Like y; x rated 6 (neutral) or 2 (disliked, weight -0.5). Neutral: J(h, u1) = J(h, u2)
    = 1/2. Disliked: u1 (who promoted x) counts 1 - 0.5 shared promotions, J = 1/4, so y and x
    (u1's titles) lose, z (u2's) does not."""
    catalog, train = people
    p = UserKNN.Params(neighbours=2, similarity="jaccard", dislike_weight=-0.5)
    model = UserKNN(p).fit(train, catalog)
    neutral, disliked = model.score([History.of([20, 10], [10, 6]), History.of([20, 10], [10, 2])])
    np.testing.assert_allclose(neutral, [1 / 2, 1, 1 / 2, 0], atol=2e-6)
    np.testing.assert_allclose(disliked, [1 / 4, 3 / 4, 1 / 2, 0], atol=2e-6)


def test_dislike_max_must_stay_below_min_rating():
    with pytest.raises(AnimerecError, match="dislike_max"):
        UserKNN(UserKNN.Params(min_rating=5, dislike_max=5))


def coo_neighbours(model: UserKNN, histories: list[History]):
    """The first version's neighbour weights (COO route), the oracle of the CSR build."""
    import scipy.sparse as sp

    from animerec.recommend.itemspace import weighted

    p = model.params
    raw = model.space.history_matrix(histories)
    H = weighted(raw, p.min_rating)
    co = (H @ model.P.T).toarray()
    own = np.diff(H.indptr).astype(np.float32)[:, None]
    if p.similarity == "jaccard":
        denom = own + model.sizes[None, :] - co
    else:
        denom = np.sqrt(own * model.sizes[None, :])
    if p.dislike_weight:
        D = raw.copy()
        D.data = np.where((D.data > 0) & (D.data <= p.dislike_max), 1.0, 0.0)
        D.eliminate_zeros()
        co = np.maximum(co + p.dislike_weight * (D @ model.P.T).toarray(), 0.0)
    sim = np.divide(co, denom, out=np.zeros_like(co), where=denom > 0).astype(np.float32)
    k = max(1, min(p.neighbours, sim.shape[1]))
    top = np.argpartition(-sim, k - 1, axis=1)[:, :k]
    w = np.take_along_axis(sim, top, axis=1)
    rows = np.repeat(np.arange(len(histories)), k)
    W = sp.csr_matrix((w.ravel(), (rows, top.ravel())), shape=sim.shape, dtype=np.float32)
    W.eliminate_zeros()
    return W


@pytest.mark.parametrize(
    "params",
    [{"neighbours": 7}, {"neighbours": 30, "similarity": "jaccard"}, {"dislike_weight": 1.5}],
)
def test_neighbour_weights_are_the_coo_routes_matrix_entry_for_entry(params):
    """Built straight as CSR, the weights must hold what the COO route held, in its order
    (columns sorted, zeros dropped), so ``W @ P`` sums the same way: the same scores."""
    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(80), 12)
    catalog = Catalog(pd.DataFrame({"anime_id": np.arange(1, 60), "name": ["x"] * 59}))
    train = Ratings.from_arrays(users, rng.integers(1, 60, len(users)), rng.integers(1, 11, 960))
    lengths = (1, 3, 8, 20, 40)
    hs = [History.of(rng.choice(59, n, replace=False) + 1, rng.integers(1, 11, n)) for n in lengths]
    hs.append(History.of([5], [2]))  # a dislike only: no neighbour at all
    model = UserKNN(UserKNN.Params(**params)).fit(train, catalog)
    for batch in [hs, *([h] for h in hs)]:
        got, want = model.neighbours(batch), coo_neighbours(model, batch)
        assert want.nnz > 0 or len(batch) == 1
        for a in ("indptr", "indices", "data"):
            np.testing.assert_array_equal(getattr(got, a), getattr(want, a))
