"""The ranking pipeline's uniform filters through the API: adult titles only on request, type /
year / genre predicates, the exclusion list, and 422 naming the field for a bad value."""

from __future__ import annotations


def test_filters_in_post_recommend(client):
    base = client.post("/recommend", json={"liked": [1], "k": 20}).json()
    assert base["items"]
    films = client.post(
        "/recommend", json={"liked": [1], "k": 20, "filters": {"types": ["Movie"]}}
    ).json()
    assert films["items"] and {i["type"] for i in films["items"]} == {"Movie"}
    first = base["items"][0]["anime_id"]
    hidden = client.post(
        "/recommend", json={"liked": [1], "k": 20, "filters": {"exclude": [first]}}
    ).json()
    assert first not in {i["anime_id"] for i in hidden["items"]}


def test_bad_filter_values_are_422_naming_the_field(client):
    r = client.post("/recommend", json={"liked": [1], "filters": {"types": ["Cartoon"]}})
    assert r.status_code == 422 and "types" in r.text
    r = client.post("/recommend", json={"liked": [1], "filters": {"genres": ["Nonsense"]}})
    assert r.status_code == 422 and "filters.genres" in r.text
    r = client.post("/recommend", json={"liked": [1], "filters": {"include_adult": 1}})
    assert r.status_code == 422
    r = client.get("/anime/1/similar", params={"year_min": 2010, "year_max": 2000})
    assert r.status_code == 422 and "year_min" in r.text


def test_query_filters_on_similar(client):
    r = client.get("/anime/1/similar", params={"types": "TV", "k": 10})
    assert r.status_code == 200
    assert {i["type"] for i in r.json()["items"]} <= {"TV"}
