"""The EASE study's protocol pieces: the few-likes draw and the cross-fitted choice."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from animerec.data.ratings import Ratings
from animerec.workspace import Workspace

STUDY = Path(__file__).resolve().parents[2] / "benchmarks" / "ease_study.py"
COMPARE = STUDY.with_name("text_side_compare.py")


@pytest.fixture(scope="module")
def es():
    spec = importlib.util.spec_from_file_location("ease_study", STUDY)
    module = importlib.util.module_from_spec(spec)
    sys.modules["ease_study"] = module
    spec.loader.exec_module(module)
    return module


def ratings() -> Ratings:
    """User 1: five 9+ ratings and two ≤ 5; user 2: two 9+ only; user 3: one 10."""
    rows = [(1, a, r) for a, r in zip(range(10, 80, 10), [10, 9, 9, 10, 9, 3, 5], strict=True)]
    rows += [(2, 100, 9), (2, 110, 10), (2, 120, 7)]
    rows += [(3, 200, 10)]
    u, a, r = zip(*rows, strict=True)
    return Ratings.from_arrays(u, a, r)


def test_likes_are_drawn_from_the_nines_and_the_rest_is_the_answer(es):
    p = es.likes_protocol(ratings(), 1)
    assert p.users.tolist() == [1, 2]  # user 3 has no second 9+ left to find
    for user, h in zip(p.users, p.histories, strict=True):
        assert len(h) == 1 and h.ratings.tolist() == [10]
        held = p.heldout.take(p.heldout.user_id == user)
        assert h.anime_ids[0] not in held.anime_id
        all_ids = ratings().take(ratings().user_id == user).anime_id
        assert sorted([*held.anime_id, *h.anime_ids]) == sorted(all_ids)


def test_draws_are_seeded_and_nested_across_n(es):
    one, three = es.likes_protocol(ratings(), 1), es.likes_protocol(ratings(), 3)
    assert three.users.tolist() == [1]  # user 2 lacks 4 ratings of 9+
    assert one.histories[0].anime_ids[0] == three.histories[0].anime_ids[0]
    again = es.likes_protocol(ratings(), 3)
    assert np.array_equal(again.histories[0].anime_ids, three.histories[0].anime_ids)
    assert set(three.histories[0].anime_ids) <= {10, 20, 30, 40, 50}


def test_a_dislike_is_drawn_from_the_low_ratings_and_left_out_of_the_answers(es):
    p = es.likes_protocol(ratings(), 3, dislikes=1)
    assert p.users.tolist() == [1]
    h, alone = p.histories[0], p.without[0]
    assert len(h) == 4 and np.array_equal(h.anime_ids[:3], alone.anime_ids)
    assert h.anime_ids[3] in (60, 70) and h.ratings[3] <= 5
    assert h.anime_ids[3] not in p.heldout.anime_id
    assert es.likes_protocol(ratings(), 1, dislikes=1).users.tolist() == [1]  # user 2: no ≤ 5


def test_crossfit_scores_each_half_with_the_other_halfs_choice(es):
    rng = np.random.default_rng(0)
    values = rng.random((3, 40))
    picks, best = es.crossfit(values)
    assert best == int(np.argmax(values.mean(axis=1)))
    (a, ca), (b, cb) = picks
    assert not (a & b).any() and (a | b).all()
    assert ca == int(np.argmax(values[:, b].mean(axis=1)))
    assert cb == int(np.argmax(values[:, a].mean(axis=1)))


def test_an_embedder_that_learned_from_a_validation_user_is_refused(es, tmp_path):
    ws = Workspace(tmp_path)
    model = ws.models_dir / "anime-minilm"
    model.mkdir(parents=True)
    (model / "modules.json").write_text("[]")
    np.save(model / "training_users.npy", np.array([1, 2, 3, 50], np.int64))
    with pytest.raises(SystemExit, match="1 of the 3 validation users"):
        es.check_embedder("auto", ws, np.array([50, 60, 70]))
    assert es.check_embedder("auto", ws, np.array([60, 70])) == "anime-minilm"
    assert es.check_embedder("minilm", ws, np.array([1, 2])) == "minilm"  # learned from no user


@pytest.fixture(scope="module")
def tsc(es):
    spec = importlib.util.spec_from_file_location("text_side_compare", COMPARE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_compare_is_paired_and_cross_fitted(tsc):
    rng = np.random.default_rng(1)
    base = rng.random(200)
    # a: two settings, the second better by .1 for every user; b: one setting, the base
    a = {"likes-3": [({"s": 0}, {"ndcg": base}), ({"s": 1}, {"ndcg": base + 0.1})]}
    b = {"likes-3": [({"s": 0}, {"ndcg": base})]}
    out = tsc.compare(a, b)["likes-3"]
    assert out["a_best"] == {"s": 1} and out["n_users"] == 200
    assert out["delta"]["mean"] == pytest.approx(0.1)
    assert out["delta"]["low"] == pytest.approx(0.1) == out["delta"]["high"]  # paired: no noise
    assert tsc.compare(b, b)["likes-3"]["delta"]["mean"] == 0.0
    with pytest.raises(SystemExit, match="not the same users"):
        tsc.compare(a, {"likes-3": [({"s": 0}, {"ndcg": base[:100]})]})
