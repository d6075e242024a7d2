"""Who may do what, and how much: tokens, erasure, content types, rate and body limits,
security headers, CORS, strict JSON types and the ``Allow`` header (issue 15)."""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from serve_data import SERVE_MODELS, new_user
from sqlalchemy import create_engine, text

from animerec.serve.app import create_app
from animerec.serve.db import API_USER_OFFSET, FeedbackStore
from animerec.serve.protection import MIB, Protection


def _err(resp, status: int, error: str) -> dict:
    assert resp.status_code == status, resp.text
    assert resp.json()["error"] == error
    return resp.json()


def _client(ws, db_url: str, **protection) -> TestClient:
    return TestClient(
        create_app(ws, db_url=db_url, models=SERVE_MODELS, protection=Protection(**protection)),
        raise_server_exceptions=False,
    )


# --- users own their data ------------------------------------------------------------------------
def test_ids_are_unguessable_and_the_token_is_shown_once(client: TestClient, db_url) -> None:
    a, b = client.post("/users", json={}).json(), client.post("/users", json={}).json()
    assert len(a["id"]) >= 22 and a["id"] != b["id"] and a["token"] != b["token"]
    assert len(a["token"]) >= 43  # 256 random bits
    auth = {"Authorization": f"Bearer {a['token']}"}
    client.put(f"/users/{a['id']}/ratings/1", json={"rating": 7}, headers=auth)
    for r in (client.get(f"/users/{a['id']}", headers=auth),
              client.get(f"/users/{a['id']}/recommendations", headers=auth)):  # fmt: skip
        assert r.status_code == 200 and a["token"] not in r.text and "token" not in r.json()
    # the database holds a salted scrypt hash, never the token
    con = sqlite3.connect(db_url.removeprefix("sqlite:///"))
    rows = con.execute("SELECT public_id, token_hash FROM users").fetchall()
    con.close()
    dump = repr(rows)
    assert a["token"] not in dump and b["token"] not in dump
    hashes = [h for _, h in rows]
    assert all(h.startswith("scrypt$") for h in hashes) and len(set(hashes)) == 2


def test_missing_token_is_401_and_wrong_token_or_user_is_the_same_404(client: TestClient) -> None:
    uid, auth = new_user(client)
    other, other_auth = new_user(client)
    client.put(f"/users/{other}/ratings/1", json={"rating": 9}, headers=other_auth)
    for method, path, body in [
        ("GET", f"/users/{other}", None),
        ("GET", f"/users/{other}/recommendations", None),
        ("PUT", f"/users/{other}/ratings/1", {"rating": 1}),
        ("DELETE", f"/users/{other}/ratings/1", None),
        ("DELETE", f"/users/{other}", None),
    ]:
        r = client.request(method, path, json=body)
        _err(r, 401, "unauthorized")
        assert r.headers["www-authenticate"] == "Bearer"
        basic = client.request(method, path, json=body, headers={"Authorization": "Basic eDp5"})
        _err(basic, 401, "unauthorized")
        # someone else's token, a made-up token: 404, word for word like a user that never was
        for headers in (auth, {"Authorization": "Bearer " + "x" * 43}):
            got = _err(client.request(method, path, json=body, headers=headers), 404, "not_found")
            nobody = path.replace(other, "B" * 22)
            never = _err(
                client.request(method, nobody, json=body, headers=headers), 404, "not_found"
            )
            assert got["message"].replace(other, "B" * 22) == never["message"]
    # nothing of theirs changed
    got = client.get(f"/users/{other}", headers=other_auth).json()["ratings"]
    assert [(x["anime_id"], x["rating"]) for x in got] == [(1, 9)]


def test_delete_user_erases_them_and_their_ratings_from_the_export(
    client: TestClient, db_url: str, tmp_path: Path
) -> None:
    keep, keep_auth = new_user(client)
    gone, gone_auth = new_user(client)
    client.put(f"/users/{keep}/ratings/3", json={"rating": 8}, headers=keep_auth)
    for a in (1, 2, 5):
        client.put(f"/users/{gone}/ratings/{a}", json={"rating": 6}, headers=gone_auth)
    store = FeedbackStore(db_url)
    assert store.count() == (2, 4)
    assert client.delete(f"/users/{gone}", headers=gone_auth).status_code == 204
    _err(client.get(f"/users/{gone}", headers=gone_auth), 404, "not_found")  # token dead
    _err(client.delete(f"/users/{gone}", headers=gone_auth), 404, "not_found")
    assert store.count() == (1, 1)
    n = store.export_csv(tmp_path / "out.csv")
    store.close()
    rows = list(csv.reader((tmp_path / "out.csv").open()))
    assert n == 1 and rows[0] == ["user_id", "anime_id", "rating"]
    assert rows[1][1:] == ["3", "8"] and int(rows[1][0]) > API_USER_OFFSET
    text_out = (tmp_path / "out.csv").read_text()
    assert keep not in text_out and keep_auth["Authorization"][7:] not in text_out
    assert client.get(f"/users/{keep}", headers=keep_auth).status_code == 200


def test_an_old_database_gains_the_columns_and_keeps_its_ratings(tmp_path: Path) -> None:
    """A feedback.db from before tokens: opened, migrated by adding columns, ratings kept and
    exported; its users have no token, so no API call reaches them."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    eng = create_engine(url)
    with eng.begin() as c:
        c.execute(text("CREATE TABLE users (id INTEGER PRIMARY KEY, created_at DATETIME)"))
        c.execute(text(
            "CREATE TABLE ratings (user_id INTEGER REFERENCES users(id) ON DELETE CASCADE, "
            "anime_id INTEGER, rating SMALLINT, updated_at DATETIME, "
            "PRIMARY KEY (user_id, anime_id))"
        ))  # fmt: skip
        c.execute(text("INSERT INTO users VALUES (1, '2026-01-01 00:00:00')"))
        c.execute(text("INSERT INTO ratings VALUES (1, 5, 9, '2026-01-01 00:00:00')"))
    eng.dispose()
    store = FeedbackStore(url)
    try:
        assert store.count() == (1, 1) and store.ratings(1)[0].rating == 9
        assert list(store.iter_ratings()) == [(1, 5, 9)]
        assert store.credentials("1") is None
        uid = store.create_user("p" * 22, "scrypt$x")
        assert store.credentials("p" * 22) == (uid, "scrypt$x")
    finally:
        store.close()
    FeedbackStore(url).close()  # a second open adds nothing and fails on nothing


# --- cross-site safety ---------------------------------------------------------------------------
@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded", None])
def test_writes_take_json_only(client: TestClient, ctype: str | None) -> None:
    uid, auth = new_user(client)
    headers = {"content-type": ctype} if ctype else {}
    for method, path, body in [
        ("POST", "/users", b"{}"),
        ("POST", "/recommend", b'{"liked": [1]}'),
        ("PUT", f"/users/{uid}/ratings/1", b'{"rating": 5}'),
    ]:
        r = client.request(method, path, content=body, headers={**headers, **auth})
        _err(r, 415, "unsupported_media_type")
    assert client.get(f"/users/{uid}", headers=auth).json()["ratings"] == []
    ok = client.post(
        "/users", content=b"{}", headers={"content-type": "application/json; charset=utf-8"}
    )
    assert ok.status_code == 201


PAGES = ["/", "/health", "/static/app.js", "/docs", "/openapi.json", "/nope", "/anime/999"]


@pytest.mark.parametrize("path", PAGES)
def test_security_headers_on_every_response(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["referrer-policy"] == "no-referrer"
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp.split("style-src")[0]  # never for scripts
    if path != "/docs":
        assert "unsafe-inline" not in csp


def test_the_page_has_no_inline_script_or_style(client: TestClient) -> None:
    html = client.get("/").text
    assert "<script>" not in html and "<style" not in html and "style=" not in html
    assert "onclick=" not in html and "javascript:" not in html
    for page in ("/docs", "/redoc"):
        doc = client.get(page)
        assert doc.status_code == 200 and "<script>" not in doc.text
        assert "cdn" not in doc.text.lower() and "https://" not in doc.text
    assert client.get("/docs-assets/swagger-ui-bundle.js").status_code == 200
    assert client.get("/docs-assets/redoc.standalone.js").status_code == 200


def test_errors_and_crashes_carry_the_headers_too(client: TestClient) -> None:
    for r in (client.post("/users", content=b"x", headers={"content-type": "text/plain"}),
              client.post("/recommend", json={"k": "5"}), client.delete("/recommend")):  # fmt: skip
        assert r.status_code >= 400 and r.headers["x-frame-options"] == "DENY"


def test_cors_is_closed_unless_an_origin_is_given(tiny_workspace, db_url: str) -> None:
    pre = {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST",
           "Access-Control-Request-Headers": "content-type"}  # fmt: skip
    with _client(tiny_workspace, db_url) as c:
        r = c.options("/users", headers=pre)
        assert "access-control-allow-origin" not in r.headers
        r = c.post("/recommend", json={"liked": [1]}, headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in r.headers
    with _client(tiny_workspace, db_url, cors_origins=("https://fans.example",)) as c:
        ok = c.options("/users", headers={**pre, "Origin": "https://fans.example"})
        assert ok.headers["access-control-allow-origin"] == "https://fans.example"
        bad = c.options("/users", headers=pre)
        assert bad.headers.get("access-control-allow-origin") != "https://evil.example"


# --- abuse limits --------------------------------------------------------------------------------
def test_user_creation_and_writes_are_rate_limited(tiny_workspace, db_url: str) -> None:
    with _client(tiny_workspace, db_url, user_rate="3/minute", write_rate="4/minute") as c:
        made = [c.post("/users", json={}) for _ in range(3)]
        assert [r.status_code for r in made] == [201] * 3
        r = c.post("/users", json={})
        _err(r, 429, "rate_limited")
        assert 1 <= int(r.headers["retry-after"]) <= 60
        uid = made[0].json()["id"]
        auth = {"Authorization": f"Bearer {made[0].json()['token']}"}
        codes = [c.put(f"/users/{uid}/ratings/{a}", json={"rating": 5}, headers=auth).status_code
                 for a in (1, 2, 3, 4, 5)]  # fmt: skip
        assert codes == [200] * 4 + [429]
        assert len(c.get(f"/users/{uid}", headers=auth).json()["ratings"]) == 4  # reads not limited
        assert c.post("/recommend", json={"liked": [1]}).status_code == 200


def test_rate_limits_can_be_turned_off(tiny_workspace, db_url: str) -> None:
    with TestClient(create_app(tiny_workspace, db_url=db_url, models=SERVE_MODELS,
                               protection=Protection.off())) as c:  # fmt: skip
        assert all(c.post("/users", json={}).status_code == 201 for _ in range(25))


def test_a_bad_rate_setting_fails_naming_it() -> None:
    from animerec.errors import AnimerecError

    with pytest.raises(AnimerecError, match="write_rate: 'lots' is not a rate"):
        Protection(write_rate="lots")
    assert Protection(user_rate="off").user_rate is None


def test_body_limit_is_enforced_before_the_body_is_read(tiny_workspace, db_url: str) -> None:
    with _client(tiny_workspace, db_url, max_body=1000) as c:
        big = b'{"liked": [' + b"1," * 600 + b"1]}"
        # by Content-Length, and by the bytes themselves when the length is not sent (chunked)
        _err(c.post("/recommend", content=big, headers={"content-type": "application/json"}),
             413, "payload_too_large")  # fmt: skip
        chunks = iter([big[:500], big[500:]])
        r = c.post("/recommend", content=chunks, headers={"content-type": "application/json"})
        _err(r, 413, "payload_too_large")
        assert c.post("/recommend", json={"liked": [1]}).status_code == 200
    assert Protection().max_body == 1 * MIB and Protection().max_upload == 8 * MIB


# --- strict inputs and the Allow header ----------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "field"),
    [({"liked": [1], "k": "5"}, "k"), ({"liked": [1], "k": True}, "k"),
     ({"liked": [1], "explore": False}, "explore"), ({"liked": [1], "explore": "0.5"}, "explore"),
     ({"liked": [True]}, "liked[0]"), ({"history": [{"anime": 1, "rating": "9"}]}, "history[0].rating"),
     ({"liked": [1], "model": 5}, "model")],
)  # fmt: skip
def test_json_types_are_strict(client: TestClient, body: dict, field: str) -> None:
    got = _err(client.post("/recommend", json=body), 422, "validation_error")
    assert field in {f["field"] for f in got["fields"]}


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_explore_must_be_finite(client: TestClient, value: str) -> None:
    body = b'{"liked": [1], "explore": ' + value.encode() + b"}"
    r = client.post("/recommend", content=body, headers={"content-type": "application/json"})
    assert "explore" in {f["field"] for f in _err(r, 422, "validation_error")["fields"]}


def test_rating_takes_a_number_not_a_string_or_bool(client: TestClient) -> None:
    uid, auth = new_user(client)
    for bad in ({"rating": "5"}, {"rating": True}, {"rating": 5.5}):
        r = client.put(f"/users/{uid}/ratings/1", json=bad, headers=auth)
        _err(r, 422, "validation_error")
    assert (
        client.put(f"/users/{uid}/ratings/1", json={"rating": 5}, headers=auth).status_code == 200
    )


def test_allow_header_lists_every_method_of_the_path(client: TestClient) -> None:
    uid, auth = new_user(client)
    r = client.get(f"/users/{uid}/ratings/1", headers=auth)
    assert r.status_code == 405 and r.headers["allow"] == "DELETE, PUT"
    r = client.patch(f"/users/{uid}", json={}, headers=auth)
    assert r.status_code == 405 and r.headers["allow"] == "DELETE, GET, HEAD"
    assert client.delete("/recommend").headers["allow"] == "POST"
    assert client.put("/users", json={}).headers["allow"] == "POST"


def test_upload_paths_take_multipart_up_to_their_own_limit() -> None:
    """The guard alone, on a stand-in upload endpoint: multipart allowed there (and only there),
    up to ``max_upload``; the ordinary limit everywhere else."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from animerec.serve.guard import Guard

    async def echo(request: Request) -> JSONResponse:
        return JSONResponse({"bytes": len(await request.body())})

    inner = Starlette(routes=[Route("/users/{uid}/import", echo, methods=["POST"]),
                              Route("/other", echo, methods=["POST"])])  # fmt: skip
    app = Guard(
        inner, Protection(max_body=100, max_upload=1000, upload_paths=(r"/users/[^/]+/import",))
    )
    c = TestClient(app)
    form = {"content-type": "multipart/form-data; boundary=x"}
    assert c.post("/users/u1/import", content=b"x" * 900, headers=form).json() == {"bytes": 900}
    _err(c.post("/users/u1/import", content=b"x" * 1001, headers=form), 413, "payload_too_large")
    _err(c.post("/other", content=b"x" * 50, headers=form), 415, "unsupported_media_type")
    json_ct = {"content-type": "application/json"}
    _err(c.post("/other", content=b"1" * 101, headers=json_ct), 413, "payload_too_large")
    assert c.post("/other", content=b"1" * 100, headers=json_ct).json() == {"bytes": 100}


@pytest.mark.parametrize("query", ["exclude_genres=", "genres=&types=TV"])
def test_an_empty_filter_value_is_a_422_naming_it(client: TestClient, query: str) -> None:
    """Found by schemathesis: an empty genre in the query was a 500 (a ValidationError raised
    while building the filters)."""
    body = _err(client.get(f"/anime/1/similar?{query}"), 422, "validation_error")
    assert {f["field"] for f in body["fields"]} <= {"genres[0]", "exclude_genres[0]"}
