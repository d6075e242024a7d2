"""Grid search on training users only, and its JSON cache."""

from __future__ import annotations

import json

import numpy as np
from evalfakes import CountPop

from animerec.data.fingerprint import data_fingerprint
from animerec.data.split import protocol_split
from animerec.evaluate.tune import grid, tune


def make(**params) -> CountPop:
    return CountPop(CountPop.Params(**params))


def test_grid_is_the_full_product_in_a_fixed_order() -> None:
    assert grid({"b": [1, 2], "a": ["x"]}) == [{"a": "x", "b": 1}, {"a": "x", "b": 2}]
    assert grid({}) == [{}]


def test_tune_picks_the_best_validation_point_on_training_users_only(synth, tmp_path) -> None:
    ratings, catalog = synth
    split = protocol_split(ratings)
    CountPop.fit_calls = []
    t = tune("countpop", make, CountPop.search_space, split.train, catalog, k=5, cache_dir=tmp_path)
    assert [r["params"] for r in t.rows] == grid(CountPop.search_space)
    assert t.best["reverse"] is False  # ranking the least popular first must lose
    best_row = max(t.rows, key=lambda r: r["ndcg"])
    assert best_row["params"] == t.best
    assert all(r["ndcg"] < best_row["ndcg"] for r in t.rows if r["params"]["reverse"])
    # every fit saw training users only, and never all of them (validation users are held back)
    assert len(CountPop.fit_calls) == 4
    for fitted in CountPop.fit_calls:
        users = np.unique(fitted.user_id)
        assert not np.isin(users, split.test_users).any()
        assert np.isin(users, split.train_users).all() and len(users) < len(split.train_users)


def test_tuning_cache_is_reused_and_keyed(synth, tmp_path) -> None:
    ratings, catalog = synth
    train = protocol_split(ratings).train
    first = tune("countpop", make, CountPop.search_space, train, catalog, k=5, cache_dir=tmp_path)
    assert not first.cached
    saved = json.loads((tmp_path / "countpop.json").read_text())["entries"][first.key]
    assert saved["best"] == first.best and saved["key"] == first.key
    assert saved["settings"]["data"] == data_fingerprint(train, catalog)

    CountPop.fit_calls = []
    again = tune("countpop", make, CountPop.search_space, train, catalog, k=5, cache_dir=tmp_path)
    assert again.cached and again.best == first.best and CountPop.fit_calls == []

    forced = tune(
        "countpop",
        make,
        CountPop.search_space,
        train,
        catalog,
        k=5,
        cache_dir=tmp_path,
        retune=True,
    )
    assert not forced.cached and len(CountPop.fit_calls) == 4
    drop_time = lambda rows: [{k: v for k, v in r.items() if k != "fit_s"} for r in rows]  # noqa: E731
    assert drop_time(forced.rows) == drop_time(first.rows)

    # other data, grid, fixed parameters or k: a different key, so it tunes again
    smaller = train.take(train.user_id != train.user_id[0])
    for kwargs in (
        {"train": smaller},
        {"space": {"min_rating": [9], "reverse": [False]}},
        {"fixed": {"min_rating": 9}, "space": {"reverse": [False, True]}},
        {"k": 3},
    ):
        args = {"train": train, "space": CountPop.search_space, "k": 5, **kwargs}
        t = tune(
            "countpop",
            make,
            args.pop("space"),
            args.pop("train"),
            catalog,
            cache_dir=tmp_path,
            **args,
        )
        assert not t.cached and t.key != first.key


def test_settings_equal_to_defaults_share_a_key_and_entries_coexist(synth, tmp_path) -> None:
    ratings, catalog = synth
    train = protocol_split(ratings).train
    space = {"reverse": [False, True]}
    plain = tune("countpop", make, space, train, catalog, k=5, cache_dir=tmp_path)
    # min_rating=9 is the default: the same model, so the same key (a hybrid passing its
    # members' settings explicitly reuses what evaluate tuned)
    same = tune(
        "countpop", make, space, train, catalog, k=5, cache_dir=tmp_path, fixed={"min_rating": 9}
    )
    assert same.cached and same.key == plain.key
    other = tune(
        "countpop", make, space, train, catalog, k=5, cache_dir=tmp_path, fixed={"min_rating": 1}
    )
    assert not other.cached and other.key != plain.key
    # both settings stay cached side by side
    entries = json.loads((tmp_path / "countpop.json").read_text())["entries"]
    assert set(entries) == {plain.key, other.key}
    assert entries[other.key]["fixed"] == {"min_rating": 1}
    assert tune("countpop", make, space, train, catalog, k=5, cache_dir=tmp_path).cached
    assert tune(
        "countpop", make, space, train, catalog, k=5, cache_dir=tmp_path, fixed={"min_rating": 1}
    ).cached


def test_a_broken_cache_file_is_ignored(synth, tmp_path) -> None:
    ratings, catalog = synth
    train = protocol_split(ratings).train
    (tmp_path / "countpop.json").write_text("{not json")
    t = tune("countpop", make, CountPop.search_space, train, catalog, k=5, cache_dir=tmp_path)
    assert not t.cached and t.key in json.loads((tmp_path / "countpop.json").read_text())["entries"]


def test_tuning_key_follows_what_the_content_vectors_come_from():
    """A cached tuning must not be reused for other vectors under the same parameters
    (``auto`` resolving to a newly trained model, or a new default sequence length)."""
    from animerec.evaluate.tune import _base_params
    from animerec.recommend.content import ContentRecommender

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(6, 4)), rng.normal(size=(6, 4))
    space = {"neighbours": [3, 5]}
    pa = _base_params(ContentRecommender(vectors=a), space)
    assert pa == _base_params(ContentRecommender(vectors=a.copy()), space)
    assert pa != _base_params(ContentRecommender(vectors=b), space)
    assert pa["embedder"] == "auto" and "vectors" in pa["inputs"]


def test_a_logged_grid_shows_a_bar_with_an_eta_and_every_point(synth, tmp_path, capsys) -> None:
    """Someone watching (a log is given) sees the grid's progress and time left on stderr, and
    still every point's line; without a log nothing is drawn."""
    ratings, catalog = synth
    train = protocol_split(ratings).train
    lines: list[str] = []
    tune("countpop", make, CountPop.search_space, train, catalog, k=5, log=lines.append)
    err = capsys.readouterr().err
    n = len(grid(CountPop.search_space))
    assert "tuning countpop" in err and f"/{n}" in err and "<" in err  # tqdm: [elapsed<left]
    assert len([m for m in lines if m.startswith("tune countpop")]) == n
    tune("countpop", make, CountPop.search_space, train, catalog, k=5, retune=True)
    assert "tuning countpop" not in capsys.readouterr().err
