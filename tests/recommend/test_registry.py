"""The registry: names to classes, parameters checked, saved models loaded whatever they are."""

from __future__ import annotations

import json

import pytest

from animerec.errors import AnimerecError
from animerec.recommend import (
    ALS,
    EASE,
    RECOMMENDERS,
    ItemKNN,
    Popularity,
    UserKNN,
    load_recommender,
    make_recommender,
)


def test_the_collaborative_names_are_registered():
    expected = {"popularity": Popularity, "itemknn": ItemKNN, "userknn": UserKNN, "ease": EASE}
    for name, cls in {**expected, "als": ALS}.items():
        assert RECOMMENDERS[name] is cls and cls.name == name


def test_make_recommender_sets_params_over_the_defaults():
    model = make_recommender("ease", l2=5.0)
    assert isinstance(model, EASE)
    assert model.params == EASE.Params(l2=5.0)
    assert make_recommender("itemknn").params == ItemKNN.Params()


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(AnimerecError, match="unknown model 'svd'; known: .*als.*ease"):
        make_recommender("svd")


def test_unknown_parameter_is_refused_with_the_valid_ones():
    with pytest.raises(AnimerecError, match="no parameter lambda; it has: .*l2"):
        make_recommender("ease", **{"lambda": 3.0})


def test_load_recommender_dispatches_on_params_json(clusters, tmp_path):
    model = make_recommender("userknn", neighbours=3).fit(clusters.train, clusters.catalog)
    model.save(tmp_path / "m")
    loaded = load_recommender(tmp_path / "m", clusters.catalog)
    assert isinstance(loaded, UserKNN) and loaded.params.neighbours == 3


def test_load_recommender_errors_name_the_problem(clusters, tmp_path):
    with pytest.raises(AnimerecError, match="params.json is missing"):
        load_recommender(tmp_path / "nothing", clusters.catalog)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "params.json").write_text(json.dumps({"model": "svd", "params": {}}))
    (tmp_path / "bad" / "state.npz").write_bytes(b"")
    with pytest.raises(AnimerecError, match="unknown model 'svd'"):
        load_recommender(tmp_path / "bad", clusters.catalog)
    (tmp_path / "bad" / "params.json").write_text("not json")
    with pytest.raises(AnimerecError, match="not a recommender's params.json"):
        load_recommender(tmp_path / "bad", clusters.catalog)


def test_a_model_saved_on_another_catalog_is_refused(clusters, tmp_path):
    import pandas as pd

    from animerec.data.catalog import Catalog

    make_recommender("ease", l2=1.0).fit(clusters.train, clusters.catalog).save(tmp_path / "m")
    smaller = Catalog(clusters.catalog.frame[clusters.catalog.frame.anime_id != 3])
    with pytest.raises(AnimerecError, match="anime_id 3.*different catalog"):
        load_recommender(tmp_path / "m", smaller)
    assert isinstance(smaller.frame, pd.DataFrame)


def test_resolve_fills_tuned_values_pins_auto_and_resolves_members(tmp_path):
    from animerec.recommend import Context, ModelSpec, UnknownModelError, resolve
    from animerec.recommend.hybrid import HybridRecommender
    from animerec.workspace import Workspace

    ws = Workspace(tmp_path)
    calls = []

    def tuner(cache_name, cls, fixed, owner):
        calls.append((cache_name, cls.name, dict(fixed), owner is not None))
        return {"l2": 7.0} if cls is EASE else {}

    spec = resolve("ease", {"graded": True}, ws, tuner=tuner)
    assert isinstance(spec, ModelSpec) and spec.tuned == {"l2": 7.0}
    assert spec.params == {**EASE.Params(graded=True, l2=7.0).__dict__}
    assert spec.build().params == EASE.Params(graded=True, l2=7.0)
    assert resolve("ease", {"l2": 3.0}, ws, tuner=tuner).params["l2"] == 3.0  # given wins

    content = resolve("content", None, ws)  # no fine-tuned model in this workspace
    assert content.params["embedder"] == "minilm" and "workspace" not in content.params
    assert content.build(Context(ws)).context.workspace == ws

    calls.clear()
    hybrid = resolve("hybrid", {"members": ("ease", "ease/graded")}, ws, member_tuner=tuner)
    assert [c[0] for c in calls] == ["ease", "ease-graded"] and all(c[3] for c in calls)
    assert calls[1][2] == {"min_rating": 8, "graded": True}  # the default member_params
    assert set(hybrid.members) == {"ease", "ease/graded"}
    assert hybrid.params["member_params"]["ease/graded"]["l2"] == 7.0
    model = hybrid.build(Context(ws))
    assert isinstance(model, HybridRecommender) and model.context.workspace == ws
    untuned = resolve(
        "hybrid", {"members": ("ease",), "tune_members": False}, ws, member_tuner=tuner
    )
    assert untuned.params["member_params"]["ease"] == EASE.Params().__dict__

    with pytest.raises(UnknownModelError, match="unknown model 'svd'; known: .*ease"):
        resolve("svd")
    with pytest.raises(UnknownModelError, match="unknown model 'svd'"):
        resolve("hybrid", {"members": ("ease", "svd")})
    with pytest.raises(AnimerecError, match="no parameter workspace"):
        resolve("content", {"workspace": str(tmp_path)})  # context, not a parameter
