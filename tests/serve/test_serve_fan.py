"""The fan's API extras: a MyAnimeList list upload (every way of sending it, broken variants),
the favicon, and search that is safe by default and reads Japanese titles (on the real sample)."""

from __future__ import annotations

import base64
import gzip
import struct
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from animerec.serve import fan


def mal_export(entries: list[tuple[int, int | str, str]]) -> bytes:
    """A list in the layout of MAL's "Export my list" (id, my_score, my_status)."""
    body = "".join(
        "\t<anime>\n"
        f"\t\t<series_animedb_id>{i}</series_animedb_id>\n"
        "\t\t<series_title><![CDATA[x]]></series_title>\n\t\t<series_type>TV</series_type>\n"
        f"\t\t<my_watched_episodes>0</my_watched_episodes>\n\t\t<my_score>{s}</my_score>\n"
        f"\t\t<my_status>{st}</my_status>\n\t\t<update_on_import>0</update_on_import>\n"
        "\t</anime>\n"
        for i, s, st in entries
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" ?>\n'
        "<!--\n Created by XML Export feature at MyAnimeList.net\n Version 1.1.0\n-->\n"
        "<myanimelist>\n\t<myinfo>\n\t\t<user_name>fan</user_name>\n\t</myinfo>\n"
        f"{body}</myanimelist>\n"
    ).encode()


# ids of the tiny serve dataset: 1 Cowboy Bebop, 3 Trigun, 4 Samurai Champloo, 5 Clannad, ...
LIST = [
    (1, 10, "Completed"),
    (3, 8, "Completed"),
    (5, 2, "Dropped"),
    (9, 0, "Watching"),
    (10, 0, "Plan to Watch"),
    (4, 0, "Completed"),
    (777777, 9, "Completed"),
]


def _check(body: dict) -> None:
    assert body["source"] == "mal-xml" and body["entries"] == 7
    assert {(h["anime_id"], h["rating"]) for h in body["history"]} == {(1, 10), (3, 8)}
    assert {h["name"] for h in body["history"]} == {"Cowboy Bebop", "Trigun"}
    assert {(e["anime_id"], e["status"]) for e in body["excluded"]} == {
        (4, "completed"),
        (5, "dropped"),
        (9, "watching"),
        (10, "plan to watch"),
    }
    assert body["dislikes"] == [5] and body["unknown_ids"] == [777777]
    assert body["stored"] is None


@pytest.mark.parametrize("how", ["multipart", "multipart-gzip", "json", "json-base64"])
def test_import_accepts_a_form_or_json(client: TestClient, how: str) -> None:
    xml = mal_export(LIST)
    gz = gzip.compress(xml)
    if how == "multipart":
        r = client.post("/import/mal", files={"file": ("animelist.xml", xml, "application/xml")})
    elif how == "multipart-gzip":
        r = client.post("/import/mal", files={"file": ("list.xml.gz", gz, "application/gzip")})
    elif how == "json":
        r = client.post("/import/mal", json={"content": xml.decode()})
    else:
        r = client.post(
            "/import/mal", json={"content": base64.b64encode(gz).decode(), "base64": True}
        )
    assert r.status_code == 200, r.text
    _check(r.json())


def test_other_bodies_are_refused_before_reading(client: TestClient) -> None:
    r = client.post("/import/mal", content=mal_export(LIST), headers={"Content-Type": "text/xml"})
    assert r.status_code == 415 and r.json()["error"] == "unsupported_media_type"


def test_import_kaggle_rows(client: TestClient) -> None:
    csv = b"user_id,anime_id,score,watching_status,watched_episodes\n7,1,9,2,26\n7,5,0,4,3\n"
    r = client.post("/import/mal", files={"file": ("animelist.csv", csv, "text/csv")})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["source"] == "kaggle-csv" and body["dislikes"] == [5]
    two = csv + b"8,3,7,2,26\n"
    r = client.post("/import/mal", json={"content": two.decode(), "user_id": 8})
    assert [(h["anime_id"], h["rating"]) for h in r.json()["history"]] == [(3, 7)]
    r = client.post(
        "/import/mal", files={"file": ("a.csv", two, "text/csv")}, data={"user_id": "7"}
    )
    assert [(h["anime_id"], h["rating"]) for h in r.json()["history"]] == [(1, 9)]


def _field_error(r, status: int = 422) -> str:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["error"] == "validation_error" and body["fields"][0]["field"] in (
        "file",
        "content",
        "user_id",
    )
    return body["message"]


def test_broken_uploads_name_the_place(client: TestClient) -> None:
    xml = mal_export(LIST)
    post = lambda data: client.post("/import/mal", files={"file": ("l.xml", data)})  # noqa: E731
    assert "line" in _field_error(post(xml[:-120])) and "well-formed" in _field_error(
        post(xml[:-120])
    )
    assert "<myanimelist>" in _field_error(post(b"<rss><channel/></rss>"))
    bad_score = mal_export([(1, "nine", "Completed")])
    assert "<anime> #1 (series_animedb_id 1): <my_score> is 'nine'" in _field_error(post(bad_score))
    assert "empty" in _field_error(post(b""))
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE b [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><myanimelist>&b;</myanimelist>'
    )
    assert "refused" in _field_error(post(bomb))
    assert "gzip" in _field_error(post(b"\x1f\x8bnot"))
    assert "base64" in _field_error(
        client.post("/import/mal", json={"content": "!!!", "base64": True})
    )
    assert "content" in _field_error(client.post("/import/mal", json={"nope": 1}))
    assert "file" in _field_error(client.post("/import/mal", files={"other": ("a", b"x")}))
    assert "user_id" in _field_error(
        client.post("/import/mal", files={"file": ("a", b"x")}, data={"user_id": "abc"})
    )


def test_upload_size_is_bounded(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fan, "MAX_UPLOAD", 2_000)
    big = mal_export(LIST * 20)
    assert len(big) > 2_000
    for r in (
        client.post("/import/mal", json={"content": big.decode()}),
        client.post("/import/mal", files={"file": ("l.xml", big, "application/xml")}),
    ):
        assert r.status_code == 413, r.text
        assert r.json()["error"] == "payload_too_large"


def test_import_for_a_user_stores_history_and_dislikes(client: TestClient) -> None:
    me = client.post("/users", json={}).json()
    auth = {"Authorization": f"Bearer {me['token']}"}
    upload = {"file": ("l.xml.gz", gzip.compress(mal_export(LIST)))}
    r = client.post(f"/users/{me['id']}/import", files=upload, headers=auth)
    assert r.status_code == 200, r.text
    assert r.json()["stored"] == 3
    got = client.get(f"/users/{me['id']}", headers=auth).json()["ratings"]
    assert {(x["anime_id"], x["rating"]) for x in got} == {(1, 10), (3, 8), (5, 1)}  # dropped: 1
    recs = client.get(f"/users/{me['id']}/recommendations", params={"k": 5}, headers=auth).json()[
        "items"
    ]
    assert recs and not {1, 3, 5} & {it["anime_id"] for it in recs}
    # only the owner may import: no token is 401, someone else's is 404
    assert client.post(f"/users/{me['id']}/import", files=upload).status_code == 401
    other = client.post("/users", json={}).json()
    theirs = {"Authorization": f"Bearer {other['token']}"}
    assert client.post(f"/users/{me['id']}/import", files=upload, headers=theirs).status_code == 404


def test_favicon(client: TestClient) -> None:
    r = client.get("/favicon.ico")
    assert r.status_code == 200 and r.headers["content-type"] == "image/x-icon"
    ico = r.content
    reserved, kind, count = struct.unpack("<HHH", ico[:6])
    assert (reserved, kind, count) == (0, 1, 1)
    width, height, *_, size, offset = struct.unpack("<BBBBHHII", ico[6:22])
    png = ico[offset : offset + size]
    assert (width, height) == (32, 32) and png.startswith(b"\x89PNG\r\n\x1a\n")
    assert struct.unpack(">II", png[16:24]) == (32, 32)
    assert 'rel="icon"' in client.get("/").text


@pytest.fixture(scope="module")
def sample_client(sample_workspace, tmp_path_factory) -> Iterator[TestClient]:
    from animerec.serve.app import create_app

    db = tmp_path_factory.mktemp("fan-serve") / "feedback.db"
    app = create_app(sample_workspace, db_url=f"sqlite:///{db}", models=["popularity"])
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def test_search_is_safe_by_default_and_reads_japanese(sample_client: TestClient) -> None:
    from animerec.data.catalog import Catalog
    from animerec.data.content_rating import adult_mask

    def ids(q: str, **extra) -> list[int]:
        r = sample_client.get("/anime/search", params={"q": q, "limit": 20, **extra})
        assert r.status_code == 200, r.text
        return [it["anime_id"] for it in r.json()["items"]]

    state = sample_client.app.state.serve
    cat: Catalog = state.catalog
    adult = set(cat.anime_ids[adult_mask(cat)].tolist())
    for q in ("bebop", "maid", "sister", "nurse"):
        assert ids(q) and not adult & set(ids(q)), q
    assert adult & set(ids("maid", include_adult="true"))
    assert ids("カウボーイビバップ")[0] == 1
    assert ids("zzzzqqqqxxxx") == []  # the page says "No titles match"
