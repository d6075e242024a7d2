"""The adaptive model routes each history to the member of its length regime."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from animerec.data.catalog import Catalog
from animerec.data.ratings import History, Ratings
from animerec.errors import AnimerecError
from animerec.recommend import make_recommender
from animerec.recommend.adaptive import AdaptiveFinetuned, AdaptiveRecommender, regime_of
from animerec.recommend.registry import load_recommender, resolve
from animerec.workspace import Workspace

N_ANIME = 40


def forty_anime() -> tuple[Catalog, Ratings]:
    """60 seeded users rating 40 anime (each user about half of them, ratings 1–10)."""
    ids = np.arange(1, N_ANIME + 1)
    catalog = Catalog(
        pd.DataFrame(
            {
                "anime_id": ids,
                "name": [f"T{i}" for i in ids],
                "type": ["TV"] * N_ANIME,
                "age_rating": ["PG-13 - Teens 13 or older"] * N_ANIME,
                "aired": ["Apr 3, 2001 to Apr 24, 2002"] * N_ANIME,
                "genres": ["Action"] * N_ANIME,
            }
        )
    )
    rng = np.random.default_rng(7)
    users, items, ratings = [], [], []
    for u in range(60):
        for a in rng.choice(ids, size=20, replace=False):
            users.append(u), items.append(int(a)), ratings.append(int(rng.integers(1, 11)))
    return catalog, Ratings.from_arrays(users, items, ratings)


def adaptive() -> AdaptiveRecommender:
    params = AdaptiveRecommender.Params(
        members=("ease/short", "ease/long"),
        bounds=(3,),
        member_params={"ease/short": {"l2": 500.0}, "ease/long": {"l2": 1.0}},
    )
    return AdaptiveRecommender(params)


def test_a_one_title_and_a_thirty_title_history_are_scored_by_different_members():
    catalog, train = forty_anime()
    model = adaptive().fit(train, catalog)
    one = History.of([1])
    thirty = History.of(list(range(1, 31)), [10 - i % 4 for i in range(30)])
    short, long = model.members["ease/short"], model.members["ease/long"]
    assert model.member_for(one) is short
    assert model.member_for(thirty) is long
    both = model.score([thirty, one])  # a mixed batch: rows grouped by regime, order kept
    np.testing.assert_array_equal(both[0], long.score([thirty])[0])
    np.testing.assert_array_equal(both[1], short.score([one])[0])
    assert not np.allclose(both[1], long.score([one])[0])
    assert not np.allclose(both[0], short.score([thirty])[0])


def test_dislikes_do_not_count_toward_the_length():
    h = History.of([1, 2, 3, 4, 5], [10, 9, 3, 2, 1])
    assert regime_of([h], (1, 3, 7, 19)).tolist() == [1]  # two likes: the 2–3 regime
    assert regime_of([History.of([1], [2])], (1, 3, 7, 19)).tolist() == [0]
    assert regime_of([History.of(list(range(20)))], (1, 3, 7, 19)).tolist() == [4]


def test_registered_with_the_study_settings():
    model = make_recommender("adaptive")
    assert model.params.members[0] == "ease/like1"
    assert model.params.member_params["ease/like1"]["l2"] == 100000.0
    assert len(model.params.members) == len(model.params.bounds) + 1


def test_members_and_bounds_must_agree():
    with pytest.raises(AnimerecError, match="one member more than bounds"):
        AdaptiveRecommender(AdaptiveRecommender.Params(members=("ease/a",), bounds=(3,)))
    with pytest.raises(AnimerecError, match="increase"):
        AdaptiveRecommender(
            AdaptiveRecommender.Params(members=("ease/a", "ease/b", "ease/c"), bounds=(5, 3))
        )


def test_one_embedder_is_the_text_side_of_every_text_member():
    given = {"l3ae/like5": {"embedder": "elsewhere", "l2": 10.0}}
    model = make_recommender("adaptive", embedder="my-embedder", member_params=given)
    assert model._make("l3ae/like5").params.embedder == "my-embedder"
    assert model._make("l3ae/like5").params.l2 == 10.0  # the rest of a member's params kept
    members = AdaptiveRecommender.members_of({"embedder": "my-embedder"})
    texts = {m for m, (model_name, _, _) in members.items() if model_name != "ease"}
    assert texts == {"l3ae/like5", "l3ae/like10", "cease/holdout"}
    assert all(members[m][1]["embedder"] == "my-embedder" for m in texts)
    assert all("embedder" not in members[m][1] for m in set(members) - texts)
    assert make_recommender("adaptive").params.embedder == "minilm"  # base MiniLM by default


def test_adaptive_ft_is_adaptive_with_the_fine_tuned_text_side(tmp_path):
    ws = Workspace(tmp_path)
    assert resolve("adaptive-ft", {}, ws).params["embedder"] == "minilm"  # none trained yet
    (ws.models_dir / "anime-minilm").mkdir(parents=True)
    (ws.models_dir / "anime-minilm" / "modules.json").write_text("[]")
    ft, base = resolve("adaptive-ft", {}, ws), resolve("adaptive", {}, ws)
    assert ft.params["embedder"] == "anime-minilm" and base.params["embedder"] == "minilm"
    assert ft.params["members"] == base.params["members"]
    for member in ("l3ae/like5", "l3ae/like10", "cease/holdout"):
        assert ft.members[member].params["embedder"] == "anime-minilm"
        assert base.members[member].params["embedder"] == "minilm"
    assert ft.members["ease/like3"].params == base.members["ease/like3"].params
    # its text members keep the settings chosen with a fine-tuned text side
    assert ft.members["l3ae/like5"].params["side_weight"] == 50.0
    assert base.members["l3ae/like5"].params["side_weight"] == 200.0
    model = ft.build()
    assert isinstance(model, AdaptiveFinetuned) and model.name == "adaptive-ft"
    assert model._make("l3ae/like5").params.embedder == "anime-minilm"


def test_adaptive_ft_saves_and_loads_as_itself(tmp_path):
    catalog, train = forty_anime()
    params = AdaptiveFinetuned.Params(
        members=("ease/short", "ease/long"),
        bounds=(3,),
        member_params={"ease/short": {"l2": 500.0}, "ease/long": {"l2": 1.0}},
    )
    model = AdaptiveFinetuned(params).fit(train, catalog)
    model.save(tmp_path / "m")
    back = load_recommender(tmp_path / "m", catalog)
    assert type(back) is AdaptiveFinetuned and back.params.embedder == "auto"
    hists = [History.of([1]), History.of(list(range(1, 31)))]
    np.testing.assert_array_equal(back.score(hists), model.score(hists))


def test_the_loaded_served_model_maps_its_matrices_instead_of_copying_them(tmp_path):
    """``serve --workers N`` shares one copy only if every member's item-item matrix stays a
    read-only map of its ``.npy`` file after loading (a copy per worker otherwise)."""
    catalog, train = forty_anime()
    served = make_recommender("adaptive").params  # the study's members, ease, l3ae and cease
    member_params = {  # no embedder in a unit test: the text members take genres as side
        m: {**p, "side": "genres"} if not m.startswith("ease/") else dict(p)
        for m, p in served.member_params.items()
    }
    params = AdaptiveRecommender.Params(
        members=served.members, bounds=served.bounds, member_params=member_params
    )
    model = AdaptiveRecommender(params).fit(train, catalog)
    model.save(tmp_path / "m")
    loaded = load_recommender(tmp_path / "m", catalog)
    assert list(loaded.members) == list(served.members)
    for name, member in loaded.members.items():
        assert isinstance(member.B, np.memmap), name
        assert not member.B.flags.writeable and member.B.nbytes == 4 * len(member.space) ** 2
        assert str(tmp_path / "m") in str(member.B.filename)
    hs = [History.of([1]), History.of(list(range(1, 31)))]
    np.testing.assert_allclose(loaded.score(hs), model.score(hs), rtol=1e-6)
    ids = {m: loaded.members[m].space.item_ids.tobytes() for m in loaded.members}
    assert len(set(ids.values())) == 1  # the same item space: one file on disk, five names
    inodes = {p.stat().st_ino for p in (tmp_path / "m" / "state").glob("*item_ids.npy")}
    assert len(inodes) == 1
