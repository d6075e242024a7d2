"""Held-out ratings never reach labels, fitting or tuning — only the metrics.

The check: change every held-out rating (r → 11 − r, so promoters become detractors), run the
whole evaluation again, and demand that every model's fitted state, its recommendations and the
tuner's choice are byte-identical, while the metrics move. A deliberately leaky runner must fail
the same check, which shows the check can fail.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import animerec.evaluate.runner as runner
from animerec.data.ratings import Ratings
from animerec.data.split import Split, protocol_split
from animerec.evaluate.runner import Evaluation, evaluate
from animerec.workspace import Workspace

COLLABORATIVE = ("popularity", "itemknn", "userknn", "ease", "als")


def key(r: Ratings) -> np.ndarray:
    return r.user_id * (1 << 32) + r.anime_id


def perturb_heldout(ratings: Ratings) -> Ratings:
    """The same ratings with every held-out one of the protocol split flipped (r → 11 − r)."""
    held = np.isin(key(ratings), key(protocol_split(ratings).heldout))
    new = ratings.rating.copy()
    new[held] = 11 - new[held]
    return Ratings(ratings.user_id, ratings.anime_id, new)


def run(models, ratings, catalog, root) -> Evaluation:
    return evaluate(
        models, ratings, catalog, k=10, workspace=Workspace(root), keep_models=True, n_bootstrap=20
    )


def assert_no_leak(a: Evaluation, b: Evaluation) -> None:
    """Everything a model learnt or chose is identical; the metrics are not."""
    moved = False
    for ra, rb in zip(a.results, b.results, strict=True):
        name = ra.model
        assert ra.recommended.tobytes() == rb.recommended.tobytes(), (
            f"{name}: recommendations differ"
        )
        sa, sb = a.models[name].state(), b.models[name].state()
        assert sorted(sa) == sorted(sb)
        for arr in sa:
            assert np.asarray(sa[arr]).tobytes() == np.asarray(sb[arr]).tobytes(), (
                f"{name}: state {arr} differs"
            )
        assert ra.params == rb.params  # the workspace is context, not a parameter
        if name in a.tunings:
            ta, tb = a.tunings[name], b.tunings[name]
            assert not ta.cached and not tb.cached
            assert ta.key == tb.key and ta.best == tb.best, f"{name}: tuning differs"
            assert [r["ndcg"] for r in ta.rows] == [r["ndcg"] for r in tb.rows]
        moved |= (ra.ndcg.mean, ra.nps.value, ra.nps.n) != (rb.ndcg.mean, rb.nps.value, rb.nps.n)
    assert moved, "the perturbed held-out ratings did not change any metric"


def test_split_keeps_held_out_ratings_apart(synth) -> None:
    ratings, _ = synth
    split = protocol_split(ratings)
    assert not np.isin(split.train.user_id, split.test_users).any()
    assert not np.isin(split.history.user_id, split.train_users).any()
    assert np.intersect1d(key(split.history), key(split.heldout)).size == 0
    # history ∪ heldout is exactly each test user's ratings
    mine = np.isin(ratings.user_id, split.test_users)
    assert np.array_equal(
        np.sort(key(ratings)[mine]),
        np.sort(np.concatenate([key(split.history), key(split.heldout)])),
    )
    # the split does not depend on rating values: perturbing the held-out part keeps it
    other = protocol_split(perturb_heldout(ratings))
    for part in ("train", "history"):
        x, y = getattr(split, part), getattr(other, part)
        assert all(
            np.array_equal(getattr(x, c), getattr(y, c)) for c in ("user_id", "anime_id", "rating")
        )
    assert np.array_equal(split.heldout.anime_id, other.heldout.anime_id)
    assert np.array_equal(other.heldout.rating, 11 - split.heldout.rating)


def test_heldout_ratings_reach_no_fit_or_tuning(synth, countpop_registry, tmp_path) -> None:
    ratings, catalog = synth
    models = ["countpop"]
    a = run(models, ratings, catalog, tmp_path / "a")
    b = run(models, perturb_heldout(ratings), catalog, tmp_path / "b")
    assert a.tunings["countpop"].rows and len(countpop_registry.fit_calls) == 2 * (4 + 1)
    assert_no_leak(a, b)


@pytest.mark.parametrize("name", COLLABORATIVE)
def test_collaborative_models_never_see_heldout(synth, tmp_path, name) -> None:
    ratings, catalog = synth
    a = run([name], ratings, catalog, tmp_path / "a")
    b = run([name], perturb_heldout(ratings), catalog, tmp_path / "b")
    assert_no_leak(a, b)


def test_content_and_hybrid_never_see_heldout(synth, tmp_path) -> None:
    from animerec.evaluate.measure import genre_vectors
    from animerec.recommend.content import ContentRecommender

    ratings, catalog = synth
    params = {"hybrid": {"members": ("ease", "als")}}
    runs = []
    for name, data in (("a", ratings), ("b", perturb_heldout(ratings))):
        content = ContentRecommender(vectors=genre_vectors(catalog))
        runs.append(
            evaluate(
                [content, "hybrid"],
                data,
                catalog,
                workspace=Workspace(tmp_path / name),
                params=params,
                keep_models=True,
                n_bootstrap=20,
            )  # fmt: skip
        )
    assert runs[0].models["hybrid"].weights is not None
    assert_no_leak(*runs)


def leaky_split(ratings: Ratings, **kwargs) -> Split:
    """A broken protocol that lets the test users' held-out ratings into training."""
    s = protocol_split(ratings, **kwargs)
    both = Ratings(
        *(
            np.concatenate([getattr(s.train, c), getattr(s.heldout, c)])
            for c in ("user_id", "anime_id", "rating")
        )
    )
    return replace(s, train=both)


def test_the_check_catches_a_leaky_runner(synth, countpop_registry, tmp_path, monkeypatch) -> None:
    ratings, catalog = synth
    monkeypatch.setattr(runner, "protocol_split", leaky_split)
    with pytest.raises(AssertionError, match="test user"):
        run(["countpop"], ratings, catalog, tmp_path / "x")  # the runner's own guard
    monkeypatch.setattr(runner, "check_split", lambda split: None)
    a = run(["countpop"], ratings, catalog, tmp_path / "a")
    b = run(["countpop"], perturb_heldout(ratings), catalog, tmp_path / "b")
    with pytest.raises(AssertionError, match="differ"):
        assert_no_leak(a, b)


def test_the_check_catches_a_leaky_tuner(synth, countpop_registry, tmp_path, monkeypatch) -> None:
    ratings, catalog = synth
    real_tune = runner.tune

    def leaky_tune(name, make, space, train, catalog, **kw):
        return real_tune(name, make, space, leaky_split(ratings_now[0]).train, catalog, **kw)

    ratings_now = [ratings]
    monkeypatch.setattr(runner, "tune", leaky_tune)
    a = run(["countpop"], ratings, catalog, tmp_path / "a")
    ratings_now[0] = perturb_heldout(ratings)
    b = run(["countpop"], ratings_now[0], catalog, tmp_path / "b")
    with pytest.raises(AssertionError, match="tuning differs"):
        assert_no_leak(a, b)


def test_labels_from_training_users_ignore_heldout(synth) -> None:
    """``animerec labels`` (default ``--users train``) builds the same pairs either way."""
    import pandas as pd

    from animerec.cli.labels import resolve_users
    from animerec.labels import LabelSettings, pair_labels

    ratings, _ = synth
    other = perturb_heldout(ratings)
    settings = LabelSettings(min_corated=3)
    users_a, users_b = resolve_users("train", ratings)[0], resolve_users("train", other)[0]
    assert np.array_equal(users_a, protocol_split(ratings).train_users)
    a, b = pair_labels(ratings, users_a, settings), pair_labels(other, users_b, settings)
    assert len(a) > 10
    pd.testing.assert_frame_equal(a, b)
    # the same comparison catches labels built from every user (test users included)
    with pytest.raises(AssertionError):
        pd.testing.assert_frame_equal(
            pair_labels(ratings, ratings.users, settings), pair_labels(other, other.users, settings)
        )
