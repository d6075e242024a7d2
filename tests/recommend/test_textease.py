"""The text-regularised EASE family: each closed form against a direct column-by-column solve."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from contract import RecommenderContract
from test_contract import cluster_vectors

from animerec.data.catalog import Catalog
from animerec.data.ratings import History, Ratings
from animerec.errors import AnimerecError
from animerec.recommend.ease import EASE
from animerec.recommend.textease import CEASE, L3AE, AddEASE, side_ease

IDS = np.array([10, 20, 30, 40])
R = np.array(
    [
        [10, 9, 0, 0],
        [8, 0, 7, 0],
        [0, 10, 9, 5],
        [9, 0, 0, 10],
        [7, 8, 0, 9],
        [0, 0, 10, 6],
    ]
)
X = (R >= 7).astype(float)
# W and X are described alike, Y and Z alike (unit vectors in 3-D)
VECTORS = np.array([[1.0, 0.1, 0.0], [0.9, 0.2, 0.1], [0.0, 0.3, 1.0], [0.1, 0.1, 0.9]])
VECTORS /= np.linalg.norm(VECTORS, axis=1, keepdims=True)
BASE = dict(graded=False, min_item_raters=1, popularity_discount=0.0)


@pytest.fixture()
def four():
    catalog = Catalog(
        pd.DataFrame(
            {
                "anime_id": IDS,
                "name": ["W", "X", "Y", "Z"],
                "genres": ["Action, Drama", "Action", "Comedy", "Comedy, Drama"],
            }
        )
    )
    u, i = np.nonzero(R)
    return catalog, Ratings.from_arrays(u, IDS[i], R[u, i])


def column_solve(X: np.ndarray, l2: float, mu: float = 0.0, prior=None) -> np.ndarray:
    """min ||X - XB||² + λ||B||² + μ||B - prior||², diag(B) = 0, one column at a time."""
    n = X.shape[1]
    prior = np.zeros((n, n)) if prior is None else prior
    B = np.zeros((n, n))
    for j in range(n):
        o = [i for i in range(n) if i != j]
        Xo = X[:, o]
        B[o, j] = np.linalg.solve(
            Xo.T @ Xo + (l2 + mu) * np.eye(n - 1), Xo.T @ X[:, j] + mu * prior[o, j]
        )
    return B


def test_side_ease_is_ease_with_the_features_as_users():
    np.testing.assert_allclose(side_ease(VECTORS, 0.5), column_solve(VECTORS.T, 0.5), atol=1e-9)


def test_l3ae_is_ease_pulled_toward_the_text_prior(four):
    catalog, train = four
    model = L3AE(L3AE.Params(l2=2.0, side_weight=3.0, side_l2=0.5, **BASE), vectors=VECTORS)
    model.fit(train, catalog)
    prior = column_solve(VECTORS.T, 0.5)
    np.testing.assert_allclose(model.B, column_solve(X, 2.0, 3.0, prior), atol=1e-6)
    # μ = 0 is EASE; a huge μ is the text prior itself
    plain = EASE(EASE.Params(l2=2.0, **BASE)).fit(train, catalog)
    zero = L3AE(L3AE.Params(l2=2.0, side_weight=0.0, **BASE), vectors=VECTORS).fit(train, catalog)
    np.testing.assert_allclose(zero.B, plain.B, atol=1e-6)
    huge = L3AE(L3AE.Params(l2=2.0, side_weight=1e7, side_l2=0.5, **BASE), vectors=VECTORS)
    np.testing.assert_allclose(huge.fit(train, catalog).B, prior, atol=1e-4)


def test_cease_stacks_the_features_as_weighted_users(four):
    catalog, train = four
    model = CEASE(CEASE.Params(l2=2.0, side_weight=4.0, **BASE), vectors=VECTORS)
    stacked = np.vstack([X, np.sqrt(4.0) * VECTORS.T])
    np.testing.assert_allclose(model.fit(train, catalog).B, column_solve(stacked, 2.0), atol=1e-6)


def test_addease_blends_the_two_item_item_matrices(four):
    catalog, train = four
    model = AddEASE(AddEASE.Params(l2=2.0, side_weight=0.25, side_l2=0.5, **BASE), vectors=VECTORS)
    expect = 0.75 * column_solve(X, 2.0) + 0.25 * column_solve(VECTORS.T, 0.5)
    np.testing.assert_allclose(model.fit(train, catalog).B, expect, atol=1e-6)
    with pytest.raises(AnimerecError, match="side_weight must be in"):
        AddEASE(AddEASE.Params(side_weight=1.5, **BASE), vectors=VECTORS).fit(train, catalog)


def test_genres_as_the_side(four):
    catalog, train = four
    model = CEASE(CEASE.Params(l2=2.0, side_weight=2.0, side="genres", **BASE)).fit(train, catalog)
    # genre indicators (Action, Comedy, Drama) of W, X, Y, Z as extra users
    genres = np.array([[1, 0, 1], [1, 0, 0], [0, 1, 0], [0, 1, 1]], float)
    stacked = np.vstack([X, np.sqrt(2.0) * genres.T])
    np.testing.assert_allclose(model.B, column_solve(stacked, 2.0), atol=1e-6)
    with pytest.raises(AnimerecError, match="side must be one of"):
        CEASE(CEASE.Params(side="tags"))


def test_the_text_prior_lifts_what_is_described_alike(four):
    """Liking W: X (described like W) gains against Y under a strong pull toward the prior."""
    catalog, train = four
    h = [History.of([10], [10])]
    plain = EASE(EASE.Params(l2=2.0, **BASE)).fit(train, catalog).score(h)[0]
    model = L3AE(L3AE.Params(l2=2.0, side_weight=50.0, side_l2=0.1, **BASE), vectors=VECTORS)
    text = model.fit(train, catalog).score(h)[0]
    assert text[1] - text[2] > plain[1] - plain[2]


def test_a_dislike_pushes_down_what_is_like_it(four, tmp_path):
    catalog, train = four
    model = L3AE(
        L3AE.Params(l2=2.0, side_weight=3.0, dislike_weight=-0.5, **BASE), vectors=VECTORS
    ).fit(train, catalog)
    neutral, disliked = model.score([History.of([30, 10], [10, 6]), History.of([30, 10], [10, 2])])
    np.testing.assert_allclose(disliked - neutral, -0.5 * model.B[0], rtol=1e-5, atol=1e-7)
    assert disliked[1] < neutral[1]  # X, W's nearest title
    model.save(tmp_path / "m")
    back = L3AE.load(tmp_path / "m", catalog)
    np.testing.assert_allclose(back.score([History.of([30, 10], [10, 2])])[0], disliked)


class TestL3AEContract(RecommenderContract):
    def make(self):
        return L3AE(
            L3AE.Params(l2=1.0, side_weight=2.0, min_item_raters=1), vectors=cluster_vectors()
        )


class TestCEASEContract(RecommenderContract):
    def make(self):
        return CEASE(
            CEASE.Params(l2=1.0, side_weight=2.0, min_item_raters=1), vectors=cluster_vectors()
        )


class TestAddEASEContract(RecommenderContract):
    def make(self):
        params = AddEASE.Params(l2=1.0, side_weight=0.3, min_item_raters=1)
        return AddEASE(params, vectors=cluster_vectors())


class TestEASERefinedContract(RecommenderContract):
    """EASE with every refinement and dislikes on keeps the contract."""

    def make(self):
        params = EASE.Params(
            l2=1.0,
            min_item_raters=1,
            drop_p=0.2,
            user_norm=0.5,
            item_norm=0.25,
            target_rating=9,
            popularity_blend=0.2,
            dislike_weight=-0.5,
        )
        return EASE(params)
