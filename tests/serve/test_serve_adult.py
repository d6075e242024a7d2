"""Safe by default: no adult ("Rx - Hentai") title comes back from any endpoint or served model
unless the request asks (``include_adult=true``), on the tiny data with two adult titles that
the tiny users rate 10 (``serve_data.ADULT_ANIME``: one Cowboy Bebop fans love, one the most
popular title of all), so a model that ignored the rule would put them near the top."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from serve_data import ADULT, SERVE_MODELS, new_user, write_tiny_data

from animerec.workspace import Workspace

K = 20  # more than the catalog holds: every title a model scores is in the list


@pytest.fixture(scope="module")
def adult_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    from animerec.data.ingest import ingest
    from animerec.serve.app import create_app

    root = tmp_path_factory.mktemp("serve-adult")
    ws = Workspace(root / "ws")
    ingest(write_tiny_data(root / "data", adult=True), ws)
    app = create_app(ws, db_url=f"sqlite:///{root / 'feedback.db'}", models=SERVE_MODELS)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def _ids(r) -> set[int]:
    assert r.status_code == 200, r.text
    return {i["anime_id"] for i in r.json()["items"]}


def _served(client: TestClient) -> list[str]:
    models = client.get("/health").json()["models"]
    assert set(models) == set(SERVE_MODELS)
    return models


def test_the_adult_titles_are_in_the_catalog(adult_client):
    for aid in ADULT:
        r = adult_client.get(f"/anime/{aid}")
        assert r.status_code == 200 and r.json()["age_rating"] == "Rx - Hentai"


@pytest.mark.parametrize("explore", [0.0, 1.0])
def test_post_recommend(adult_client, explore):
    for model in _served(adult_client):
        seen: set[int] = set()
        for liked in ([1], [5], [1, 5, 8]):
            body = {"liked": liked, "k": K, "model": model, "explore": explore}
            got = _ids(adult_client.post("/recommend", json=body))
            assert got and not got & set(ADULT), (model, liked, got)
            for franchise in (True, False):
                asked = dict(body, filters={"include_adult": True}, franchise=franchise)
                seen |= _ids(adult_client.post("/recommend", json=asked))
        assert set(ADULT) <= seen, (model, seen)


def test_similar(adult_client):
    for model in _served(adult_client):
        seen: set[int] = set()
        for aid in (1, 5, 9):
            params = {"k": K, "model": model}
            got = _ids(adult_client.get(f"/anime/{aid}/similar", params=params))
            assert got and not got & set(ADULT), (model, aid, got)
            seen |= _ids(
                adult_client.get(
                    f"/anime/{aid}/similar", params={**params, "include_adult": "true"}
                )
            )
        assert set(ADULT) <= seen, (model, seen)


def test_user_recommendations(adult_client):
    uid, auth = new_user(adult_client)
    for aid in (1, 5):
        r = adult_client.put(f"/users/{uid}/ratings/{aid}", json={"rating": 10}, headers=auth)
        assert r.status_code in (200, 201), r.text
    for model in _served(adult_client):
        seen: set[int] = set()
        for explore in (0.0, 1.0):
            params = {"k": K, "model": model, "explore": explore}
            url = f"/users/{uid}/recommendations"
            got = _ids(adult_client.get(url, params=params, headers=auth))
            assert got and not got & set(ADULT), (model, got)
            asked = {**params, "include_adult": "true"}
            seen |= _ids(adult_client.get(url, params=asked, headers=auth))
        assert set(ADULT) <= seen, (model, seen)


@pytest.mark.parametrize("q", ["bebop", "kanon", "Bebop After Dark", "Himitsu no Heya"])
def test_search(adult_client, q):
    got = _ids(adult_client.get("/anime/search", params={"q": q, "limit": 50}))
    assert not got & set(ADULT), (q, got)
    asked = _ids(
        adult_client.get("/anime/search", params={"q": q, "limit": 50, "include_adult": "true"})
    )
    assert asked & set(ADULT), (q, asked)


def test_genres_leave_out_adult_only_genres(adult_client):
    names = [g["name"] for g in adult_client.get("/genres").json()["genres"]]
    assert "Hentai" not in names and "Sci-Fi" in names
    asked = adult_client.get("/genres", params={"include_adult": "true"}).json()["genres"]
    counts = {g["name"]: g["count"] for g in asked}
    assert counts["Hentai"] == 2 and counts["Space"] == 4
