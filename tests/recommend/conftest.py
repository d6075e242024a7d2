"""Fixtures of the collaborative recommenders' tests: two taste clusters, and the sample's split."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from clusters import Clusters, two_clusters

from animerec.data.ratings import histories_from_ratings
from animerec.recommend.base import Recommender


@pytest.fixture()
def clusters() -> Clusters:
    return two_clusters()


@pytest.fixture(scope="session")
def sample_split(sample_ratings):
    """The DESIGN §5 protocol split of the real sample."""
    from animerec.data.split import protocol_split

    return protocol_split(sample_ratings)


@pytest.fixture(scope="session")
def ndcg_at_10(sample_split) -> Callable[[Recommender, int], float]:
    """``ndcg(model, n_users)``: mean NDCG@10 of a fitted model over the first ``n_users`` test
    users (by id) of the sample split, computed by the project's metrics."""
    from animerec.evaluate.metrics import id_matrix, lookup_heldout, ranking_metrics

    users, histories = histories_from_ratings(sample_split.history)

    def ndcg(model: Recommender, n_users: int = 200) -> float:
        u, h = users[:n_users], histories[:n_users]
        ids = id_matrix(model.recommend(h, 10), 10)
        m = ranking_metrics(lookup_heldout(ids, sample_split.heldout, u), u, 10)
        return float(m.ndcg.mean())

    return ndcg


@pytest.fixture(scope="session")
def popularity_ndcg(sample_split, sample_catalog, ndcg_at_10) -> float:
    """The floor: popularity's NDCG@10 on the same test users."""
    from animerec.recommend.popularity import Popularity

    return ndcg_at_10(Popularity().fit(sample_split.train, sample_catalog))
