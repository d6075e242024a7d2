"""The runner against a naive per-user reference implementation of DESIGN §5, on synthetic data."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from evalfakes import CountPop, synthetic

from animerec.data.split import protocol_split
from animerec.errors import AnimerecError
from animerec.evaluate.measure import genre_vectors
from animerec.evaluate.runner import evaluate
from animerec.recommend.base import Recommender


def naive(split, catalog, recommended: np.ndarray, k: int) -> dict:
    """DESIGN §5 metrics with plain Python loops, one user at a time."""
    nd, hr, rc, nps_vals = [], [], [], []
    for i, user in enumerate(split.test_users):
        mine = split.heldout.user_id == user
        held = dict(
            zip(
                split.heldout.anime_id[mine].tolist(),
                split.heldout.rating[mine].tolist(),
                strict=True,
            )
        )
        recs = [int(a) for a in recommended[i] if a != -1][:k]
        for a in recs:
            if a in held:
                nps_vals.append(1 if held[a] >= 9 else 0 if held[a] >= 7 else -1)
        relevant = {a for a, r in held.items() if r >= 9}
        if not relevant:
            continue
        hits = [1.0 if a in relevant else 0.0 for a in recs]
        dcg = sum(h / math.log2(r + 2) for r, h in enumerate(hits))
        idcg = sum(1 / math.log2(r + 2) for r in range(min(k, len(relevant))))
        nd.append(dcg / idcg)
        hr.append(float(sum(hits) > 0))
        rc.append(sum(hits) / min(k, len(relevant)))
    return {
        "ndcg": np.mean(nd),
        "hr": np.mean(hr),
        "recall": np.mean(rc),
        "n_users": len(nd),
        "nps": sum(nps_vals) / len(nps_vals),
        "nps_n": len(nps_vals),
    }


def test_runner_matches_the_naive_reference(synth) -> None:
    ratings, catalog = synth
    ev = evaluate([CountPop()], ratings, catalog, k=5, n_bootstrap=200)
    (res,) = ev.results
    split = protocol_split(ratings)
    # the recommendations are the training popularity order, minus each history
    ref = naive(split, catalog, res.recommended, k=5)
    assert res.n_users == ref["n_users"] > 10
    assert res.ndcg.mean == pytest.approx(ref["ndcg"])
    assert res.hr.mean == pytest.approx(ref["hr"])
    assert res.recall.mean == pytest.approx(ref["recall"])
    assert res.nps.value == pytest.approx(ref["nps"]) and res.nps.n == ref["nps_n"]
    assert res.ndcg.low <= res.ndcg.mean <= res.ndcg.high
    assert ev.split["n_test_users"] == len(split.test_users)
    assert ev.split["n_train_users"] == len(split.train_users)


def test_recommendations_exclude_history_and_use_training_counts(synth) -> None:
    ratings, catalog = synth
    ev = evaluate([CountPop()], ratings, catalog, k=5, n_bootstrap=10)
    split = protocol_split(ratings)
    rec = ev.results[0].recommended
    pos = catalog.positions(split.train.anime_id)
    counts = np.bincount(pos[split.train.rating >= 9], minlength=len(catalog))
    for i, user in enumerate(split.test_users):
        seen = set(split.history.anime_id[split.history.user_id == user].tolist())
        assert not seen & set(rec[i].tolist())
        c = counts[catalog.positions(rec[i][rec[i] >= 0])]
        assert np.all(np.diff(c) <= 0)  # best first


class ByPosition(Recommender):
    """Scores every catalog item, earlier catalog positions higher (it can rank cold items)."""

    name = "byposition"

    def fit(self, train, catalog):
        self.catalog = catalog
        return self

    def score(self, histories):
        return np.tile(-np.arange(len(self.catalog), dtype=np.float32), (len(histories), 1))


def test_cold_start_items_are_those_no_training_user_rated(synth) -> None:
    ratings, catalog = synth
    k = 3
    ev = evaluate([CountPop(), ByPosition()], ratings, catalog, k=k, n_bootstrap=10)
    split = protocol_split(ratings)
    cold = [a for a in catalog.anime_ids.tolist() if a not in set(split.train.anime_id.tolist())]
    assert ev.split["n_cold_items"] == len(cold) > 0
    pop, bypos = (r.cold for r in ev.results)
    held_cold = np.isin(split.heldout.anime_id, cold)
    assert pop["n_heldout"] == bypos["n_heldout"] == int(held_cold.sum()) > 0
    # a popularity model cannot score items without training ratings: it serves nobody
    assert pop["n_users_served"] == 0
    # ByPosition recommends the first k cold items not in the history; recall by hand
    recalls = []
    for user in split.test_users:
        seen = set(split.history.anime_id[split.history.user_id == user].tolist())
        recs = [a for a in cold if a not in seen][:k]
        mine = (split.heldout.user_id == user) & held_cold & (split.heldout.rating >= 9)
        rel = set(split.heldout.anime_id[mine].tolist())
        if rel:
            recalls.append(len(rel & set(recs)) / min(k, len(rel)))
    assert bypos["n_users"] == len(recalls) > 0
    assert bypos["n_users_served"] == len(split.test_users)
    assert bypos["recall"]["mean"] == pytest.approx(np.mean(recalls))
    assert pop["n_users"] == len(recalls) and pop["recall"]["mean"] == 0.0
    # the cold lists themselves come with the result (for paired comparisons), cold items only
    bypos_result = ev.results[1].recommended_cold
    assert bypos_result.shape == (len(split.test_users), k)
    assert np.isin(bypos_result[bypos_result != -1], cold).all()
    assert (ev.results[0].recommended_cold == -1).all()  # popularity serves nobody there


def test_franchise_share_of_hits(synth) -> None:
    ratings, catalog = synth
    (res,) = evaluate([CountPop()], ratings, catalog, k=5, n_bootstrap=10).results
    split = protocol_split(ratings)
    names = catalog.frame["name"].tolist()
    base = {
        a: names[p].replace(" Season 2", "")
        for a, p in zip(catalog.anime_ids, range(len(names)), strict=True)
    }
    same = total = 0
    for i, user in enumerate(split.test_users):
        hist = {base[a] for a in split.history.anime_id[split.history.user_id == user].tolist()}
        held = split.heldout.user_id == user
        good = set(split.heldout.anime_id[held & (split.heldout.rating >= 9)].tolist())
        for a in res.recommended[i]:
            if a in good:
                total += 1
                same += base[int(a)] in hist
    assert res.n_hits == total > 0
    assert res.franchise_share_hits == pytest.approx(same / total)


def test_explore_above_zero_fails_clearly_until_the_reranker_exists(synth) -> None:
    import importlib.util

    ratings, catalog = synth
    if importlib.util.find_spec("animerec.recommend.explore") is not None:
        ev = evaluate([CountPop()], ratings, catalog, explore=[0.0, 0.5], n_bootstrap=10)
        assert [e["explore"] for e in ev.results[0].explore] == [0.0, 0.5]
    else:
        with pytest.raises(AnimerecError, match="explore"):
            evaluate([CountPop()], ratings, catalog, explore=[0.0, 0.5])
    with pytest.raises(AnimerecError, match=r"\[0, 1\]"):
        evaluate([CountPop()], ratings, catalog, explore=[1.5])


def test_explore_curve_at_zero_reports_diversity_and_novelty(synth) -> None:
    ratings, catalog = synth
    (res,) = evaluate([CountPop()], ratings, catalog, k=5, n_bootstrap=10).results
    (point,) = res.explore
    assert point["explore"] == 0.0
    assert point["ndcg"] == pytest.approx(res.ndcg.mean)
    assert 0.0 <= point["diversity"] <= 1.0
    assert point["novelty"] > 0


def test_genre_vectors_are_unit_multi_hot() -> None:
    _, catalog = synthetic()
    v = genre_vectors(catalog)
    assert v.shape[0] == len(catalog)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose((v > 0).sum(axis=1), 2)


def test_determinism(synth) -> None:
    ratings, catalog = synth
    a = evaluate([CountPop()], ratings, catalog, k=5, n_bootstrap=100).results[0].as_dict()
    b = evaluate([CountPop()], ratings, catalog, k=5, n_bootstrap=100).results[0].as_dict()
    for d in (a, b):
        d.pop("fit_s"), d.pop("recommend_s")
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


@pytest.mark.parametrize("name", ["popularity", "itemknn", "userknn", "ease", "als", "content"])
def test_rank_lists_equals_recommend(synth, name) -> None:
    """The single-scoring fast path gives exactly what Recommender.recommend gives."""
    from animerec.data.ratings import histories_from_ratings
    from animerec.evaluate.measure import rank_lists
    from animerec.evaluate.metrics import id_matrix
    from animerec.recommend.registry import make_recommender

    ratings, catalog = synth
    split = protocol_split(ratings)
    _, hists = histories_from_ratings(split.history)
    if name == "content":  # description vectors stand-in: the genre vectors
        from animerec.recommend.content import ContentRecommender

        model = ContentRecommender(vectors=genre_vectors(catalog)).fit(split.train, catalog)
    else:
        model = make_recommender(name).fit(split.train, catalog)
    cold = ~np.isin(catalog.anime_ids, split.train.anime_id)
    cold[:3] = True  # some scorable items too, so the cold lists are not all padding
    lists = rank_lists(model, hists, 5, cold_mask=cold, explore=(0.0, 0.5))
    assert np.array_equal(lists.top, id_matrix(model.recommend(hists, 5), 5))
    assert np.array_equal(lists.cold, id_matrix(model.recommend(hists, 5, candidates=cold), 5))
    assert np.array_equal(lists.explored[0.5], id_matrix(model.recommend(hists, 5, explore=0.5), 5))
    assert (lists.top != -1).any() and (lists.cold[:, 0] != -1).any()


@pytest.mark.parametrize("name", ["itemknn", "ease"])
def test_spread_lists_equal_recommend_over_the_batch_and_cover_more(synth, name) -> None:
    """Spread in the fast path = Recommender.recommend(spread=…) over the same batch; it keeps
    each list's head, draws the rest from the user's own top window and reaches more anime."""
    from animerec.data.ratings import histories_from_ratings
    from animerec.evaluate.measure import rank_lists
    from animerec.evaluate.metrics import id_matrix
    from animerec.recommend import Spread
    from animerec.recommend.registry import make_recommender

    ratings, catalog = synth
    split = protocol_split(ratings)
    _, hists = histories_from_ratings(split.history)
    model = make_recommender(name).fit(split.train, catalog)
    cold = ~np.isin(catalog.anime_ids, split.train.anime_id)
    s = Spread(keep=3, window=12)
    lists = rank_lists(model, hists, 6, cold_mask=cold, spread=s)
    assert np.array_equal(lists.top, id_matrix(model.recommend(hists, 6, spread=s), 6))
    plain = id_matrix(model.recommend(hists, 6), 6)
    window = id_matrix(model.recommend(hists, 12), 12)
    assert np.array_equal(lists.top[:, :3], plain[:, :3])
    assert all(set(t) <= set(w) for t, w in zip(lists.top, window, strict=True))
    assert len(np.unique(lists.top)) > len(np.unique(plain))
    ev = evaluate([name], ratings, catalog, k=6, n_bootstrap=50, spread=s)
    assert (
        ev.results[0].coverage
        > evaluate([name], ratings, catalog, k=6, n_bootstrap=50).results[0].coverage
    )
    with pytest.raises(ValueError, match="not both"):
        model.recommend(hists[:2], 6, explore=0.5, spread=s)
    from animerec.evaluate.report import metrics_dict, render_markdown

    assert metrics_dict(ev)["settings"]["spread"] == {"keep": 3, "window": 12, "seed": 0}
    assert "keeps its first 3 anime" in render_markdown(ev)


def test_hybrid_members_are_the_models_fitted_in_the_same_run(synth, tmp_path) -> None:
    from animerec.workspace import Workspace

    ratings, catalog = synth
    # untuned members, as the untuned ease and als evaluated alone
    params = {"hybrid": {"members": ("ease", "als"), "priors": (), "tune_members": False}}
    common = dict(params=params, tune_models=False, keep_models=True, n_bootstrap=20)
    run = evaluate(["ease", "als", "hybrid"], ratings, catalog, workspace=Workspace(tmp_path / "a"), **common)  # fmt: skip
    hybrid = run.models["hybrid"]
    assert hybrid.members["ease"] is run.models["ease"]
    assert hybrid.members["als"] is run.models["als"]
    assert hybrid.context.workspace == Workspace(tmp_path / "a")  # context, not a parameter
    assert "workspace" not in run.results[2].params
    alone = evaluate(["hybrid"], ratings, catalog, workspace=Workspace(tmp_path / "b"), **common)
    assert alone.models["hybrid"].members["ease"] is not run.models["ease"]
    assert alone.results[0].recommended.tobytes() == run.results[2].recommended.tobytes()
    assert alone.models["hybrid"].weights.tobytes() == hybrid.weights.tobytes()
