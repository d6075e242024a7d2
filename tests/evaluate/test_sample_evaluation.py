"""The protocol on the real MAL sample: the split's figures and a sanity ranking of real models."""

from __future__ import annotations

import numpy as np
from evalfakes import CountPop

from animerec.evaluate.report import write_report
from animerec.evaluate.runner import evaluate


def test_protocol_figures_on_the_sample(sample_ratings, sample_catalog, tmp_path) -> None:
    ev = evaluate([CountPop()], sample_ratings, sample_catalog, n_bootstrap=200)
    s = ev.split
    assert (s["n_users"], s["n_train_users"], s["n_test_users"]) == (1455, 1019, 401)
    # test users with < 10 ratings are left out entirely
    used = s["n_history_ratings"] + s["n_heldout_ratings"] + s["n_train_ratings"]
    assert 0.99 * len(sample_ratings) < used <= len(sample_ratings)
    (r,) = ev.results
    assert r.n_users == s["n_counted_users"] and 300 < r.n_users <= 401
    # 20% held out of each test user (≥ 10 ratings), relevance = rating ≥ 9
    assert 0.19 < s["n_heldout_ratings"] / (s["n_heldout_ratings"] + s["n_history_ratings"]) < 0.21
    assert s["n_cold_items"] + s["n_train_items"] == len(sample_catalog)
    assert 0.0 < r.ndcg.low < r.ndcg.mean < r.ndcg.high < 1.0
    assert r.nps.n > 0 and -1 <= r.nps.value <= 1
    assert r.mean_popularity_rank < 500  # a popularity model recommends the mainstream
    assert 0.0 < r.franchise_share_hits < 1.0
    assert r.recommended.shape == (401, 10) and (r.recommended > 0).all()
    out = write_report(ev, tmp_path / "report")
    assert "1,019 training users, 401 test users" in (out / "report.md").read_text()


def test_ease_beats_popularity_on_the_sample(sample_ratings, sample_catalog) -> None:
    """The evaluation must separate a personalised model from a popularity list."""
    from animerec.recommend.registry import make_recommender

    ev = evaluate(
        [make_recommender("popularity"), make_recommender("ease")],
        sample_ratings,
        sample_catalog,
        n_bootstrap=500,
    )
    pop, ease = ev.results
    assert ease.ndcg.low > pop.ndcg.high
    assert ease.coverage > pop.coverage
    assert np.isfinite([pop.fit_s, pop.recommend_s, ease.fit_s, ease.recommend_s]).all()
