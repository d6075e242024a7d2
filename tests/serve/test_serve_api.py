"""Every endpoint of the API on the tiny two-cluster workspace, including its error answers."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient
from serve_data import SERVE_MODELS, SPACE, new_user

from animerec.recommend.base import Recommender


def _ids(resp) -> list[int]:
    return [it["anime_id"] for it in resp.json()["items"]]


def _assert_error(resp, status: int, error: str) -> dict:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["error"] == error
    assert "Traceback" not in resp.text and 'File "' not in resp.text
    return body


def _fields(body: dict) -> set[str]:
    return {f["field"] for f in body["fields"]}


# --- service and anime ---------------------------------------------------------------------------
def test_health_lists_models_and_default(client: TestClient) -> None:
    h = client.get("/health").json()
    assert h["status"] == "ok"
    assert h["models"] == list(SERVE_MODELS)
    assert h["default_model"] == "ease"  # no hybrid served: ease is the default
    assert h["anime"] == 12
    assert h["database"] == "sqlite"


def test_search_ranks_name_and_english_matches(client: TestClient) -> None:
    r = client.get("/anime/search", params={"q": "bebop", "limit": 5})
    assert r.status_code == 200
    ids = _ids(r)
    assert ids[:2] == [1, 2]  # the more popular Cowboy Bebop first
    assert 3 not in ids[:2]
    # English names are searched too, and a typo still finds the show
    assert _ids(client.get("/anime/search", params={"q": "attack on titan"}))[0] == 10
    assert _ids(client.get("/anime/search", params={"q": "steins gate"}))[0] == 9
    assert _ids(client.get("/anime/search", params={"q": "samurai chanploo"}))[0] == 4
    hit = client.get("/anime/search", params={"q": "trigun", "limit": 1}).json()["items"]
    assert len(hit) == 1 and hit[0]["match"] == 100.0
    assert hit[0]["genres"] == ["Action", "Sci-Fi"] and hit[0]["season"] == "Spring 1998"


@pytest.mark.parametrize(
    ("params", "field"),
    [({}, "q"), ({"q": ""}, "q"), ({"q": "x" * 201}, "q"), ({"q": "a", "limit": 0}, "limit"),
     ({"q": "a", "limit": 51}, "limit"), ({"q": "a", "limit": "many"}, "limit")],
)  # fmt: skip
def test_search_rejects_bad_parameters(client: TestClient, params: dict, field: str) -> None:
    body = _assert_error(client.get("/anime/search", params=params), 422, "validation_error")
    assert _fields(body) == {field}


def test_anime_detail_has_metadata_and_description(client: TestClient) -> None:
    a = client.get("/anime/2").json()
    assert a["name"] == "Cowboy Bebop: Tengoku no Tobira"
    assert a["english_name"] == "Cowboy Bebop: The Movie"
    assert a["type"] == "Movie" and a["season"] is None and a["year"] == 2001
    assert (
        a["studios"] == "Bones" and a["synopsis"] == "The story of Cowboy Bebop: Tengoku no Tobira."
    )
    assert a["description"].startswith(
        "Cowboy Bebop: Tengoku no Tobira (Cowboy Bebop: The Movie) is a movie."
    )
    assert "The story of Cowboy Bebop: Tengoku no Tobira." in a["description"]


def test_unknown_anime_id_is_404_with_nearest_ids(client: TestClient) -> None:
    body = _assert_error(client.get("/anime/14"), 404, "not_found")
    assert "14" in body["message"]
    assert [m["anime_id"] for m in body["matches"]][:2] == [12, 11]
    for path in ("/anime/14/similar", "/anime/0/similar"):
        _assert_error(client.get(path), 404, "not_found")


@pytest.mark.parametrize("bad", ["abc", "-1", "99999999999"])
def test_bad_anime_id_is_422(client: TestClient, bad: str) -> None:
    body = _assert_error(client.get(f"/anime/{bad}"), 422, "validation_error")
    assert _fields(body) == {"anime_id"}


def test_similar_returns_the_same_cluster(client: TestClient) -> None:
    r = client.get("/anime/1/similar", params={"k": 3})
    assert r.status_code == 200
    body = r.json()
    assert body["model"] == "ease" and body["input"][0]["anime_id"] == 1
    assert set(_ids(r)) == {2, 3, 4}
    assert [it["rank"] for it in body["items"]] == [1, 2, 3]
    assert all(it["reason"] for it in body["items"])
    pop = client.get("/anime/1/similar", params={"k": 3, "model": "popularity"})
    assert pop.json()["model"] == "popularity" and 1 not in _ids(pop)


@pytest.mark.parametrize(
    ("params", "field"),
    [({"k": 0}, "k"), ({"k": 101}, "k"), ({"model": "nope"}, "model"), ({"model": ""}, "model")],
)
def test_similar_rejects_bad_parameters(client: TestClient, params: dict, field: str) -> None:
    body = _assert_error(client.get("/anime/1/similar", params=params), 422, "validation_error")
    assert _fields(body) == {field}


# --- recommend -----------------------------------------------------------------------------------
def test_recommend_from_liked_titles_and_ids(client: TestClient) -> None:
    r = client.post("/recommend", json={"liked": ["cowboy bebop", 3], "k": 4})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["input"] == [
        {"anime_id": 1, "name": "Cowboy Bebop", "rating": 10},
        {"anime_id": 3, "name": "Trigun", "rating": 10},
    ]
    ids = _ids(r)
    assert len(ids) == 4 and not {1, 3} & set(ids)
    assert set(ids[:2]) == {2, 4}  # the rest of the space-western cluster comes first
    for it in body["items"]:
        assert it["reason"].startswith("because you liked")
        assert isinstance(it["score"], float) and it["genres"]
    scores = [it["score"] for it in body["items"]]
    assert scores == sorted(scores, reverse=True)


def test_recommend_from_rated_history_and_dislikes(client: TestClient) -> None:
    r = client.post(
        "/recommend",
        json={"history": [{"anime": "Clannad", "rating": 10}, {"anime": 6, "rating": 9}],
              "disliked": ["Cowboy Bebop"], "k": 3},
    )  # fmt: skip
    assert r.status_code == 200, r.text
    body = r.json()
    assert {(i["anime_id"], i["rating"]) for i in body["input"]} == {(5, 10), (6, 9), (1, 1)}
    assert set(_ids(r)[:2]) == {7, 12}  # the other Key dramas
    assert 1 not in _ids(r)  # disliked titles never come back


def test_recommend_model_k_and_explore(client: TestClient) -> None:
    base = {"liked": [1, 2, 3, 4]}
    r = client.post("/recommend", json=base | {"model": "popularity", "k": 2})
    assert r.json()["model"] == "popularity" and len(_ids(r)) == 2
    assert set(_ids(r)) <= {8, 9, 10}  # what most training users rated highly
    many = client.post("/recommend", json=base | {"k": 100})
    assert many.status_code == 200 and len(_ids(many)) == 8  # everything else the model scores
    ex = client.post("/recommend", json=base | {"k": 5, "explore": 1.0})
    assert ex.status_code == 200, ex.text
    assert ex.json()["explore"] == 1.0 and len(_ids(ex)) == 5 and not set(SPACE) & set(_ids(ex))


def test_unknown_title_is_404_with_close_matches(client: TestClient) -> None:
    r = client.post("/recommend", json={"liked": [3, "Cowboy Bebpo"]})
    body = _assert_error(r, 404, "not_found")
    assert body["message"].startswith("liked[1]:")
    assert [m["anime_id"] for m in body["matches"]][:2] == [1, 2]
    body = _assert_error(client.post("/recommend", json={"disliked": [77]}), 404, "not_found")
    assert body["message"].startswith("disliked[0]:") and body["matches"]


@pytest.mark.parametrize(
    ("payload", "fields"),
    [
        ({"liked": [1], "k": 0}, {"k"}),
        ({"liked": [1], "k": 101}, {"k"}),
        ({"liked": [1], "explore": 1.5}, {"explore"}),
        ({"liked": [1], "explore": -0.1}, {"explore"}),
        ({"liked": [1] * 501}, {"liked"}),
        ({"liked": [1], "model": "nope"}, {"model"}),
        ({"liked": [1], "likes": [2]}, {"likes"}),
        ({"liked": [""]}, {"liked[0]"}),
        ({"liked": [1.5]}, {"liked[0]"}),
        ({"liked": [True]}, {"liked[0]"}),
        ({"liked": [-3]}, {"liked[0]"}),
        ({"history": [{"anime": 1, "rating": 11}]}, {"history[0].rating"}),
        ({"history": [{"anime": 1}]}, {"history[0].rating"}),
        ({"liked": [1], "disliked": ["Cowboy Bebop"]}, {"disliked[0]"}),  # contradiction
        ({"liked": "Cowboy Bebop"}, {"liked"}),
    ],
)
def test_recommend_rejects_bad_bodies(client: TestClient, payload: dict, fields: set) -> None:
    body = _assert_error(client.post("/recommend", json=payload), 422, "validation_error")
    assert _fields(body) == fields, body


def test_recommend_with_nothing_to_go_on_is_empty(client: TestClient) -> None:
    r = client.post("/recommend", json={})
    assert r.status_code == 200
    assert r.json()["items"] == [] and r.json()["input"] == [] and r.json()["model"] == "ease"


def test_malformed_json_is_422(client: TestClient) -> None:
    r = client.post(
        "/recommend", content=b"{not json", headers={"content-type": "application/json"}
    )
    _assert_error(r, 422, "validation_error")
    r = client.post(
        "/recommend", content=b"\xff\xfe{", headers={"content-type": "application/json"}
    )
    assert _fields(_assert_error(r, 422, "validation_error")) == {"body"}


class _Broken(Recommender):
    name = "broken"

    def fit(self, train, catalog):
        return self

    def score(self, histories):
        raise RuntimeError("secret internal detail")


def test_internal_errors_are_json_without_stack_traces(tiny_workspace, db_url) -> None:
    from animerec.data.catalog import Catalog
    from animerec.serve.app import create_app

    broken = _Broken()
    broken.catalog = Catalog.read(tiny_workspace.anime)
    broken.score = lambda histories: np.zeros((len(histories), 12), np.float32)  # warm-up passes
    app = create_app(tiny_workspace, db_url=db_url, models=["ease", broken])
    with TestClient(app, raise_server_exceptions=False) as c:
        del broken.score  # now it fails on every request
        r = c.post("/recommend", json={"liked": [1], "model": "broken"})
        body = _assert_error(r, 500, "internal_error")
        assert "secret" not in r.text and body["message"] == "internal server error"


def test_unknown_route_and_method(client: TestClient) -> None:
    _assert_error(client.get("/nope"), 404, "not_found")
    _assert_error(client.delete("/recommend"), 405, "method_not_allowed")


# --- users and feedback --------------------------------------------------------------------------
def test_user_ratings_drive_recommendations(client: TestClient) -> None:
    uid, auth = new_user(client)
    assert client.get(f"/users/{uid}", headers=auth).json() == {"id": uid, "ratings": []}
    empty = client.get(f"/users/{uid}/recommendations", headers=auth)
    assert empty.status_code == 200 and empty.json()["items"] == []

    put = client.put(f"/users/{uid}/ratings/5", json={"rating": 10}, headers=auth)
    assert put.status_code == 200 and put.json()["rating"] == 10 and put.json()["name"] == "Clannad"
    client.put(f"/users/{uid}/ratings/6", json={"rating": 4}, headers=auth)
    client.put(f"/users/{uid}/ratings/6", json={"rating": 9}, headers=auth)  # replaces the 4
    got = client.get(f"/users/{uid}", headers=auth).json()["ratings"]
    assert [(x["anime_id"], x["rating"]) for x in got] == [(5, 10), (6, 9)]

    recs = client.get(f"/users/{uid}/recommendations", params={"k": 2}, headers=auth)
    assert recs.status_code == 200
    assert set(_ids(recs)) == {7, 12}
    assert {(i["anime_id"], i["rating"]) for i in recs.json()["input"]} == {(5, 10), (6, 9)}

    assert client.delete(f"/users/{uid}/ratings/6", headers=auth).status_code == 204
    got = client.get(f"/users/{uid}", headers=auth).json()["ratings"]
    assert [x["anime_id"] for x in got] == [5]
    _assert_error(client.delete(f"/users/{uid}/ratings/6", headers=auth), 404, "not_found")
    other, other_auth = new_user(client)
    assert other != uid
    assert client.get(f"/users/{other}", headers=other_auth).json()["ratings"] == []


def test_user_endpoints_errors(client: TestClient) -> None:
    uid, auth = new_user(client)
    nobody = "A" * 22  # a well-formed id no user has
    for method, path in [
        ("get", f"/users/{nobody}"),
        ("get", f"/users/{nobody}/recommendations"),
        ("delete", f"/users/{nobody}/ratings/1"),
    ]:
        _assert_error(client.request(method, path, headers=auth), 404, "not_found")
    r = client.put(f"/users/{nobody}/ratings/1", json={"rating": 5}, headers=auth)
    _assert_error(r, 404, "not_found")
    body = _assert_error(
        client.put(f"/users/{uid}/ratings/13", json={"rating": 5}, headers=auth), 404, "not_found"
    )
    assert body["matches"][0]["anime_id"] == 12
    for bad in ({"rating": 0}, {"rating": 11}, {"rating": "ten"}, {}, {"rating": 5, "x": 1}):
        body = _assert_error(
            client.put(f"/users/{uid}/ratings/1", json=bad, headers=auth), 422, "validation_error"
        )
        assert _fields(body) <= {"rating", "x"} and body["fields"]
    body = _assert_error(client.get("/users/0", headers=auth), 422, "validation_error")
    assert _fields(body) == {"user_id"}
    body = _assert_error(
        client.get(f"/users/{uid}/recommendations", params={"explore": 2}, headers=auth),
        422,
        "validation_error",
    )
    assert _fields(body) == {"explore"}


def test_web_page_and_docs_are_served(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and 'id="search"' in page.text and 'id="explore"' in page.text
    assert 'name="viewport"' in page.text
    for asset in ("/static/app.js", "/static/style.css"):
        assert client.get(asset).status_code == 200
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/health", "/anime/search", "/anime/{anime_id}", "/anime/{anime_id}/similar",
            "/recommend", "/users", "/users/{user_id}/ratings/{anime_id}",
            "/users/{user_id}/recommendations"} <= set(paths)  # fmt: skip


def test_liked_means_rating_10_and_disliked_rating_1(client: TestClient) -> None:
    from animerec.serve.state import DISLIKED, LIKED

    assert (LIKED, DISLIKED) == (10, 1)
    a = client.post("/recommend", json={"liked": [1, 11], "disliked": [5], "k": 5}).json()
    history = [{"anime": 1, "rating": 10}, {"anime": 11, "rating": 10}, {"anime": 5, "rating": 1}]
    b = client.post("/recommend", json={"history": history, "k": 5}).json()
    assert [i["anime_id"] for i in a["items"]] == [i["anime_id"] for i in b["items"]]
    assert [i["score"] for i in a["items"]] == pytest.approx([i["score"] for i in b["items"]])


def test_default_model_is_hybrid_when_served(tiny_workspace, db_url) -> None:
    """The serving default: hybrid if served, else ease (here a stand-in named "hybrid")."""
    from animerec.data.catalog import Catalog
    from animerec.data.ratings import Ratings
    from animerec.recommend.popularity import Popularity
    from animerec.serve.app import create_app

    class StandIn(Popularity):
        name = "hybrid"

    hybrid = StandIn().fit(Ratings.read(tiny_workspace.ratings), Catalog.read(tiny_workspace.anime))
    with TestClient(create_app(tiny_workspace, db_url=db_url, models=["ease", hybrid])) as c:
        h = c.get("/health").json()
        assert h["models"] == ["ease", "hybrid"] and h["default_model"] == "hybrid"
        assert c.post("/recommend", json={"liked": [1]}).json()["model"] == "hybrid"
        enum = c.get("/openapi.json").json()["components"]["schemas"]["RecommendRequest"]
        assert enum["properties"]["model"]["anyOf"][0]["enum"] == ["ease", "hybrid"]


def test_default_model_is_adaptive_when_served(tiny_workspace, db_url) -> None:
    """adaptive, when served, comes before hybrid and ease (stand-ins by name)."""
    from animerec.data.catalog import Catalog
    from animerec.data.ratings import Ratings
    from animerec.recommend.popularity import Popularity
    from animerec.serve.app import create_app

    def stand_in(as_name: str) -> Popularity:
        cls = type(f"StandIn_{as_name}", (Popularity,), {"name": as_name})
        return cls().fit(Ratings.read(tiny_workspace.ratings), Catalog.read(tiny_workspace.anime))

    models = ["ease", stand_in("hybrid"), stand_in("adaptive")]
    with TestClient(create_app(tiny_workspace, db_url=db_url, models=models)) as c:
        assert c.get("/health").json()["default_model"] == "adaptive"
        assert c.post("/recommend", json={"liked": [1]}).json()["model"] == "adaptive"
