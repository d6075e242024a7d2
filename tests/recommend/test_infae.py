"""∞-AE: the NTK against a wide random network, the closed form by hand, and dislikes."""

from __future__ import annotations

import numpy as np
from contract import RecommenderContract

from animerec.data.ratings import History
from animerec.recommend.filters import Filters
from animerec.recommend.infae import InfiniteAE, relu_ntk
from animerec.recommend.itemspace import weighted


def test_ntk_matches_a_wide_random_relu_network():
    """Θ(x, x') = E[σ(wx)σ(wx')] + x·x' E[σ'(wx)σ'(wx')] over w ~ N(0, I) (both layers'
    gradients of a one-hidden-layer net); Monte Carlo over 400k hidden units."""
    rng = np.random.default_rng(0)
    a, b = np.array([1.0, 2.0, 0.0, -1.0]), np.array([0.5, 1.0, 1.5, 0.0])
    W = rng.standard_normal((400_000, 4))
    ha, hb = W @ a, W @ b
    mc = np.mean(np.maximum(ha, 0) * np.maximum(hb, 0)) + a @ b * np.mean((ha > 0) & (hb > 0))
    got = relu_ntk(
        np.array([[a @ b]]), np.array([np.linalg.norm(a)]), np.array([np.linalg.norm(b)])
    )
    np.testing.assert_allclose(got[0, 0], mc, rtol=0.01)
    # the same input: ‖x‖²; a zero input: 0
    same = relu_ntk(
        np.array([[a @ a]]), np.array([np.linalg.norm(a)]), np.array([np.linalg.norm(a)])
    )
    np.testing.assert_allclose(same[0, 0], a @ a)
    assert relu_ntk(np.zeros((1, 1)), np.zeros(1), np.ones(1))[0, 0] == 0.0


def test_scores_are_kernel_ridge_regression_over_users(clusters):
    model = InfiniteAE(InfiniteAE.Params(l2=0.5, min_item_raters=1)).fit(
        clusters.train, clusters.catalog
    )
    U = weighted(model.space.train_matrix(clusters.train), 7, True).toarray()
    norms = np.linalg.norm(U, axis=1)
    K = relu_ntk(U @ U.T, norms, norms)
    alpha = np.linalg.solve(K + 0.5 * np.mean(np.diag(K)) * np.eye(len(K)), U)
    x = np.zeros(len(model.space))
    cols = model.space.columns(np.array([1, 2]), clusters.catalog)
    x[cols] = [4, 3]  # a 10 and a 9, graded from 7
    k = relu_ntk(x[None] @ U.T, np.array([np.linalg.norm(x)]), norms)
    got = model.score([History.of([1, 2], [10, 9])])[0][model.space.positions]
    np.testing.assert_allclose(got, (k @ alpha)[0], rtol=1e-4, atol=1e-6)
    # cluster A's fan is recommended cluster A
    adult = Filters(include_adult=True)  # the clusters' A5 is an adult title
    best = model.recommend([History.of([1, 2], [10, 9])], 3, filters=adult)[0]
    assert {r.anime_id for r in best} <= {3, 4, 5}


def test_a_dislike_lowers_the_disliked_titles_neighbours(clusters, tmp_path):
    p = InfiniteAE.Params(l2=0.5, min_item_raters=1, dislike_weight=-0.5)
    model = InfiniteAE(p).fit(clusters.train, clusters.catalog)
    neutral, disliked = model.score([History.of([1, 11], [10, 6]), History.of([1, 11], [10, 2])])
    b = clusters.catalog.positions([12, 13, 14, 15])
    assert (disliked[b] < neutral[b]).all()
    model.save(tmp_path / "m")
    back = InfiniteAE.load(tmp_path / "m", clusters.catalog)
    np.testing.assert_allclose(back.score([History.of([1, 11], [10, 2])])[0], disliked)


class TestInfiniteAEContract(RecommenderContract):
    def make(self):
        return InfiniteAE(InfiniteAE.Params(l2=0.5, min_item_raters=1, dislike_weight=-0.5))
