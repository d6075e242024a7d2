"""The OpenAI-compatible backend against a real HTTP server on loopback, started by the test."""

from __future__ import annotations

import hashlib
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from animerec.embed import EmbeddingAPIError, OpenAIEmbedder, OpenAISettings, get_embedder
from animerec.embed.cache import EmbeddingCache, cached_encode
from animerec.errors import AnimerecError
from animerec.workspace import Workspace

KEY = "sk-test-123"
MODEL = "fake-embed"
DIM = 8


def fake_vector(text: str, dimensions: int | None = None) -> list[float]:
    """What the server returns for ``text``: deterministic, not unit length."""
    seed = int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)
    v = np.random.default_rng(seed).normal(size=DIM) * 3.0
    return v[: dimensions or DIM].tolist()


@dataclass
class FakeAPI:
    """State of the fake server: what it saw, and failures to serve before answering."""

    url: str = ""
    fail_with: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    batches: list[list[str]] = field(default_factory=list)
    auth: list[str | None] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _handler(api: FakeAPI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep pytest output clean
            pass

        def _send(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def _error(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
            self._send(status, {"error": {"message": message, "type": "test"}}, headers)

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with api.lock:
                api.auth.append(self.headers.get("Authorization"))
                failure = api.fail_with.pop(0) if api.fail_with else None
            if self.path != "/v1/embeddings":
                return self._error(404, f"no route {self.path}")
            if self.headers.get("Authorization") != f"Bearer {KEY}":
                return self._error(401, "Incorrect API key provided: sk-bad***.")
            if failure is not None:
                return self._error(failure[0], "slow down", failure[1])
            if body.get("model") != MODEL:
                return self._error(404, f"The model `{body.get('model')}` does not exist")
            texts = body["input"]
            if not isinstance(texts, list) or any(not t for t in texts):
                return self._error(400, "'$.input' is invalid: empty string")
            with api.lock:
                api.batches.append(texts)
            data = [
                {
                    "object": "embedding",
                    "index": i,
                    "embedding": fake_vector(t, body.get("dimensions")),
                }
                for i, t in enumerate(texts)
            ]
            self._send(200, {"object": "list", "data": data[::-1], "model": MODEL})  # any order

    return Handler


@pytest.fixture
def api() -> Iterator[FakeAPI]:
    state = FakeAPI()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def embedder(api: FakeAPI, **kw: object) -> OpenAIEmbedder:
    settings = OpenAISettings(model=MODEL, base_url=api.url, api_key=KEY, backoff=0.01)
    return OpenAIEmbedder(settings, **kw)


def unit(rows: list[list[float]]) -> np.ndarray:
    v = np.asarray(rows, np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


TEXTS = [f"anime number {i}" for i in range(10)]


def test_batches_in_order_and_normalised(api):
    emb = embedder(api, batch_size=4)
    out = emb.encode(TEXTS)
    assert [len(b) for b in api.batches] == [4, 4, 2]
    assert [t for b in api.batches for t in b] == TEXTS
    np.testing.assert_allclose(out, unit([fake_vector(t) for t in TEXTS]), atol=1e-6)
    assert out.dtype == np.float32 and emb.dim == DIM
    assert api.auth[0] == f"Bearer {KEY}"


def test_retries_429_and_5xx_then_succeeds(api):
    api.fail_with = [(429, {"Retry-After": "0"}), (503, {}), (502, {})]
    emb = embedder(api)
    out = emb.encode(TEXTS[:3])
    assert emb.requests == 4 and len(api.batches) == 1
    np.testing.assert_allclose(out, unit([fake_vector(t) for t in TEXTS[:3]]), atol=1e-6)


def test_retry_after_is_honoured_over_the_backoff(api):
    api.fail_with = [(429, {"Retry-After": "0"})] * 2
    emb = embedder(api, backoff=30.0)  # would wait 30 s + 60 s without the header
    assert emb.encode(["x"]).shape == (1, DIM) and emb.requests == 3


def test_gives_up_after_max_retries(api):
    api.fail_with = [(503, {})] * 10
    emb = embedder(api, max_retries=2)
    with pytest.raises(EmbeddingAPIError, match=r"after 3 attempts \(HTTP 503: slow down\)"):
        emb.encode(["x"])
    assert emb.requests == 3


def test_bad_key_fails_at_once_with_the_servers_message(api):
    emb = OpenAIEmbedder(OpenAISettings(model=MODEL, base_url=api.url, api_key="sk-bad"))
    with pytest.raises(AnimerecError) as err:
        emb.encode(["x"])
    message = str(err.value)
    assert "rejected the API key" in message and "OPENAI_API_KEY" in message
    assert "HTTP 401: Incorrect API key provided" in message
    assert emb.requests == 1  # not retried


def test_bad_request_and_unknown_model_are_not_retried(api):
    emb = embedder(api)
    with pytest.raises(EmbeddingAPIError, match="HTTP 400: '\\$.input' is invalid"):
        emb.encode(["fine", ""])
    other = embedder(api, model="no-such-model")
    with pytest.raises(EmbeddingAPIError, match="does not know model 'no-such-model'.*404"):
        other.encode(["x"])
    assert emb.requests == other.requests == 1


def test_connection_errors_are_retried_then_reported():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    emb = OpenAIEmbedder(
        OpenAISettings(
            model=MODEL, base_url=f"http://127.0.0.1:{port}/v1", max_retries=1, backoff=0.01
        )
    )
    with pytest.raises(EmbeddingAPIError, match="after 2 attempts.*ConnectError"):
        emb.encode(["x"])


def test_registry_name_settings_from_environment(api, monkeypatch, tmp_path):
    monkeypatch.setenv("OPENAI_BASE_URL", api.url)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    emb = get_embedder(f"openai:{MODEL}")
    host = api.url.split("//")[1].split("/")[0]
    assert emb.name == f"openai[{host}]:{MODEL}"
    assert emb.dim == DIM and len(api.batches) == 1  # an unknown model's size is asked once

    ws = Workspace(tmp_path)
    first = cached_encode(emb, TEXTS[:5], EmbeddingCache(ws))
    sent = len(api.batches)
    again = cached_encode(emb, TEXTS[:5], EmbeddingCache(ws))
    assert len(api.batches) == sent  # served from the cache
    np.testing.assert_array_equal(first, again)


def test_dimensions_are_sent_and_named(api):
    emb = embedder(api, dimensions=4)
    assert emb.name.endswith(f"{MODEL}/d4") and emb.dim == 4
    out = emb.encode(["x"])
    np.testing.assert_allclose(out, unit([fake_vector("x", 4)]), atol=1e-6)


def test_openai_proper_needs_a_key(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(AnimerecError, match="set \\$OPENAI_API_KEY"):
        get_embedder("openai:text-embedding-3-small")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    emb = get_embedder("openai:text-embedding-3-small")
    assert emb.name == "openai:text-embedding-3-small" and emb.dim == 1536  # no request needed
