"""Every model under the hold-out and the few-likes protocols, against naive per-user loops."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from evalfakes import synthetic

from animerec.data.ratings import histories_from_ratings
from animerec.data.split import (
    HOLDOUT,
    Protocol,
    likes_split,
    parse_protocols,
    protocol_split,
    validation_split,
    without_dislikes,
)
from animerec.evaluate.metrics import bootstrap_ratio_delta_ci
from animerec.evaluate.protocol_report import protocols_markdown
from animerec.evaluate.protocols import UserMeasures, compare, variant_base
from animerec.evaluate.report import TIMING_KEYS, metrics_dict, write_report
from animerec.evaluate.runner import evaluate
from animerec.evaluate.tune import tune, tune_protocols
from animerec.recommend.dislikes import VALIDATED_STRENGTH, DislikeNeighbours
from animerec.recommend.pipeline import RankOptions, rank_batch
from animerec.recommend.registry import make_recommender
from animerec.workspace import Workspace

MODELS = ["popularity", "itemknn", "ease"]


def naive(split, lists: np.ndarray, k: int) -> dict:
    """NDCG@k over users with a relevant answer; detractor rate pooled over recommendations."""
    nd, det, recs = [], 0, 0
    for i, user in enumerate(split.test_users):
        mine = split.heldout.user_id == user
        held = dict(
            zip(
                split.heldout.anime_id[mine].tolist(),
                split.heldout.rating[mine].tolist(),
                strict=True,
            )
        )
        rec = [int(a) for a in lists[i] if a != -1][:k]
        recs += len(rec)
        det += sum(1 for a in rec if a in held and held[a] <= 6)
        relevant = {a for a, r in held.items() if r >= 9}
        if relevant:
            dcg = sum(1 / math.log2(r + 2) for r, a in enumerate(rec) if a in relevant)
            nd.append(dcg / sum(1 / math.log2(r + 2) for r in range(min(k, len(relevant)))))
    return {"ndcg": float(np.mean(nd)), "det": det / recs, "n": len(nd)}


def lists_of(name: str, split, k: int) -> np.ndarray:
    ratings, catalog = synthetic()
    model = make_recommender(name).fit(split.train, catalog)
    _, hists = histories_from_ratings(split.history)
    out = np.full((len(hists), k), -1)
    # the served dislike step (its strength as served), neighbours from the training users
    dislikes = DislikeNeighbours.of(split.train, catalog)
    for i, recs in enumerate(model.recommend(hists, k, dislikes=dislikes)):
        out[i, : len(recs)] = [r.anime_id for r in recs]
    return out


@pytest.fixture(scope="module")
def run():
    ratings, catalog = synthetic()
    protocols = parse_protocols(["holdout", "likes"], [1, 3], dislikes=1)
    ev = evaluate(MODELS, ratings, catalog, tune_models=False, n_bootstrap=200, protocols=protocols)
    return ratings, catalog, ev


def test_every_protocol_matches_the_naive_reference(run) -> None:
    ratings, _, ev = run
    k = 10
    split = protocol_split(ratings)
    part = ev.protocols["results"]
    assert list(part) == ["holdout", "likes1", "likes1+d1", "likes3", "likes3+d1"]
    for r in ev.results:  # the hold-out row is the main evaluation's, unchanged
        assert part["holdout"][r.model]["ndcg"]["mean"] == pytest.approx(r.ndcg.mean)
    for name in MODELS:
        for p in (Protocol(3), Protocol(1, 1)):
            ps = p.apply(split)
            want = naive(ps, lists_of(name, ps, k), k)
            row = part[p.name][name]
            assert row["n_counted_users"] == want["n"] and row["n_users"] == len(ps.test_users)
            assert row["ndcg"]["mean"] == pytest.approx(want["ndcg"])
            assert row["detractor_rate"]["mean"] == pytest.approx(want["det"])
            assert row["ndcg"]["low"] <= row["ndcg"]["mean"] <= row["ndcg"]["high"]
        # the same users without the dislike
        ps = without_dislikes(likes_split(split, 1, dislikes=1))
        want = naive(ps, lists_of(name, ps, k), k)
        row = part["likes1+d1"][name]
        assert row["without_dislike"]["ndcg"]["mean"] == pytest.approx(want["ndcg"])
        assert row["dislike_delta"]["ndcg"]["mean"] == pytest.approx(
            row["ndcg"]["mean"] - want["ndcg"]
        )
    # paired deltas against the references, over the same users
    for rows in part.values():
        for m in ("itemknn", "ease"):
            d = rows[m]["vs"]["popularity"]["ndcg"]
            assert d["mean"] == pytest.approx(
                rows[m]["ndcg"]["mean"] - rows["popularity"]["ndcg"]["mean"]
            )
        assert "ease" not in rows["ease"]["vs"] and "ease" in rows["itemknn"]["vs"]


def test_the_holdout_report_is_unchanged_and_the_protocols_are_added(run, tmp_path) -> None:
    ratings, catalog, ev = run
    alone = evaluate(MODELS, ratings, catalog, tune_models=False, n_bootstrap=200)
    assert alone.protocols is None

    def strip(d):
        if isinstance(d, dict):
            return {k: strip(v) for k, v in d.items() if k not in TIMING_KEYS}
        return [strip(v) for v in d] if isinstance(d, list) else d

    a, b = metrics_dict(alone), metrics_dict(ev)
    assert "protocols" not in a and "protocols" in b
    b.pop("protocols")
    assert strip(a) == strip(b)
    out = write_report(ev, tmp_path / "r")
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["protocols"]["split"]["likes3"]["n_test_users"] > 0
    assert (out / "ndcg_by_likes.png").stat().st_size > 1000
    md = (out / "report.md").read_text()
    assert "## Protocols" in md and "likes3+d1" in md and "Δ detractor rate" in md


def test_tuning_per_protocol_on_validation_users(tmp_path) -> None:
    ratings, catalog = synthetic()
    split = protocol_split(ratings)
    ws = Workspace(tmp_path / "ws")
    space = {"l2": [1.0, 1000.0], "min_rating": [7]}
    make = lambda **kw: make_recommender("ease", **kw)  # noqa: E731
    old = tune("ease", make, space, split.train, catalog, cache_dir=ws.sub("tuning"))
    per = tune_protocols(
        "ease", make, space, split.train, catalog, cache_dir=ws.sub("tuning"),
        protocols=[HOLDOUT, Protocol(1), Protocol(3)],
    )  # fmt: skip
    assert per["holdout"].cached and per["holdout"].key == old.key  # old caches stay valid
    assert not per["likes1"].cached and len({t.key for t in per.values()}) == 3
    again = tune(
        "ease", make, space, split.train, catalog, cache_dir=ws.sub("tuning"), protocol=Protocol(3)
    )
    assert again.cached and again.best == per["likes3"].best
    # the scores are those of validation users under the protocol (never a test user)
    v = Protocol(3).apply(validation_split(split.train, seed=43), seed=43)
    assert not np.isin(v.test_users, split.test_users).any()
    assert per["likes3"].rows[0]["n_users"] == len(
        np.unique(v.heldout.user_id[v.heldout.rating >= 9])
    )

    ev = evaluate(
        ["popularity", "ease"], ratings, catalog, workspace=ws, n_bootstrap=50,
        protocols=[HOLDOUT, Protocol(3)], tune_per_protocol=["ease"],
    )  # fmt: skip
    assert set(ev.protocol_tunings["ease"]) == {"holdout", "likes3"}
    best3 = ev.protocol_tunings["ease"]["likes3"].best
    used = ev.protocols["results"]["likes3"]["ease"]["params"]
    assert {key: used[key] for key in best3} == best3
    assert ev.protocols["results"]["holdout"]["ease"]["params"] == ev.results[1].params
    assert ev.protocols["tuned_per_protocol"] == ["ease"]


def test_paired_ratio_delta_is_the_difference_of_pooled_ratios() -> None:
    a, da = np.array([1.0, 0, 3]), np.array([10.0, 10, 10])
    b, db = np.array([0.0, 0, 1]), np.array([10.0, 5, 10])
    ci = bootstrap_ratio_delta_ci(a, da, b, db, n=300, seed=1)
    assert ci.mean == pytest.approx(4 / 30 - 1 / 25)
    assert ci.low <= ci.mean <= ci.high
    same = bootstrap_ratio_delta_ci(a, da, a, da, n=100)
    assert same.mean == same.low == same.high == 0.0


def measures(ndcg: np.ndarray) -> UserMeasures:
    n = len(ndcg)
    ones = np.ones(n)
    return UserMeasures(ndcg, (ndcg > 0).astype(float), ones, ones, 0 * ones, 10 * ones)


def test_a_variant_is_compared_with_its_base_model() -> None:
    assert variant_base("adaptive-ft", ["adaptive", "adaptive-ft"]) == "adaptive"
    assert variant_base("adaptive-ft", ["ease", "adaptive-ft"]) is None  # its base did not run
    assert variant_base("ease", ["ease", "popularity"]) is None
    rng = np.random.default_rng(0)
    base = rng.random(50)
    models = {
        "popularity": measures(base / 2),
        "adaptive": measures(base),
        "adaptive-ft": measures(base + 0.05),
    }
    params = {"likes3": dict.fromkeys(models, {})}
    out = compare({"likes3": models}, {}, params, n_bootstrap=100, seed=0)["likes3"]
    assert set(out["adaptive-ft"]["vs"]) == {"popularity", "adaptive"}
    assert out["adaptive-ft"]["vs"]["adaptive"]["ndcg"]["mean"] == pytest.approx(0.05)
    assert set(out["adaptive"]["vs"]) == {"popularity"}  # no variant the other way round
    part = {"results": {"likes3": out}, "split": {"likes3": {"n_test_users": 50}}}
    text = "\n".join(protocols_markdown(part, 10))
    assert "### Variants against their base model" in text
    assert "| likes3 | adaptive-ft | adaptive | +0.050 [+0.050, +0.050]" in text


def test_the_dislike_step_runs_in_the_evaluation_as_in_the_pipeline() -> None:
    """``dislike_strength`` > 0: the +d1 lists are the pipeline's with the step on, its
    neighbours from the training users — and they differ from the step off."""
    ratings, catalog = synthetic()
    p = Protocol(1, 1)
    ev = evaluate(
        ["ease"], ratings, catalog, tune_models=False, n_bootstrap=50, protocols=[p],
        dislike_strength=VALIDATED_STRENGTH,
    )  # fmt: skip
    ps = p.apply(protocol_split(ratings))
    model = make_recommender("ease").fit(ps.train, catalog)
    _, hists = histories_from_ratings(ps.history)
    nb = DislikeNeighbours.of(ps.train, catalog)
    on = rank_batch(model, hists, RankOptions(dislike_strength=VALIDATED_STRENGTH), dislikes=nb)
    off = rank_batch(model, hists, RankOptions(dislike_strength=0.0), dislikes=nb)
    assert (on.ids(catalog) != off.ids(catalog)).any()
    want = naive(ps, on.ids(catalog), 10)
    row = ev.protocols["results"][p.name]["ease"]
    assert row["ndcg"]["mean"] == pytest.approx(want["ndcg"])
    assert row["detractor_rate"]["mean"] == pytest.approx(want["det"])
