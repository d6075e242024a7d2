"""The API on the real MAL sample with EASE: titles resolve, recommendations make sense."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient


@pytest.fixture(scope="module")
def sample_client(sample_workspace, tmp_path_factory) -> Iterator[TestClient]:
    from animerec.serve.app import create_app

    db = tmp_path_factory.mktemp("sample-serve") / "feedback.db"
    app = create_app(sample_workspace, db_url=f"sqlite:///{db}", models=["ease"])
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def test_search_finds_cowboy_bebop_first(sample_client: TestClient) -> None:
    items = sample_client.get("/anime/search", params={"q": "bebop"}).json()["items"]
    assert items[0]["anime_id"] == 1 and items[0]["name"] == "Cowboy Bebop"
    assert {1, 5} <= {it["anime_id"] for it in items[:4]}  # the TV series and the movie
    eng = sample_client.get("/anime/search", params={"q": "Attack on Titan", "limit": 1}).json()
    assert eng["items"][0]["anime_id"] == 16498  # Shingeki no Kyojin, by its English name


def test_anime_detail_on_the_sample(sample_client: TestClient) -> None:
    a = sample_client.get("/anime/1").json()
    assert a["type"] == "TV" and a["season"] == "Spring 1998" and a["year"] == 1998
    assert "Sci-Fi" in a["genres"] and a["studios"] == "Sunrise"
    assert a["description"].startswith("Cowboy Bebop is a TV series.")


def test_recommend_for_bebop_fans(sample_client: TestClient) -> None:
    r = sample_client.post(
        "/recommend", json={"liked": ["Cowboy Bebop", "Trigun", "Samurai Champloo"], "k": 10}
    )
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    ids = [it["anime_id"] for it in items]
    assert len(ids) == 10 and len(set(ids)) == 10 and not {1, 6, 205} & set(ids)
    assert 5 in ids  # the Cowboy Bebop movie, for people who liked the series
    assert all(it["reason"].startswith("because you liked") for it in items)
    bad = sample_client.post("/recommend", json={"liked": ["Cowbboy Bebop"]})
    assert bad.status_code == 404 and bad.json()["matches"][0]["anime_id"] == 1
