"""Embeddings from an OpenAI-compatible ``/embeddings`` endpoint (the book's baseline: ada /
text-embedding-3), also served by vLLM, Ollama, LiteLLM and others.

Remote calls fail in ways a local model does not: rate limits and overloaded servers are retried
with exponential backoff (honouring ``Retry-After``); a bad key, model or request is not, and
stops with the server's own message.
"""

from __future__ import annotations

import email.utils
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING
from urllib.parse import urlparse

import numpy as np

from animerec.embed.base import Embedder
from animerec.errors import AnimerecError

if TYPE_CHECKING:
    import httpx

DEFAULT_BASE_URL = "https://api.openai.com/v1"
BASE_URL_ENV = "OPENAI_BASE_URL"
API_KEY_ENV = "OPENAI_API_KEY"
RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})
# Output sizes of OpenAI's own models, so ``dim`` needs no request.
KNOWN_DIMS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}


class EmbeddingAPIError(AnimerecError):
    """The embeddings API refused a request, or kept failing after every retry."""


@dataclass(frozen=True)
class OpenAISettings:
    """How to reach the API. ``api_key`` None sends no Authorization header (local servers)."""

    model: str = "text-embedding-3-small"
    base_url: str = DEFAULT_BASE_URL
    api_key: str | None = None
    batch_size: int = 128  # texts per request (OpenAI allows up to 2048)
    max_retries: int = 6
    backoff: float = 1.0  # first wait in seconds; doubles each retry
    max_backoff: float = 60.0
    timeout: float = 60.0
    dimensions: int | None = None  # text-embedding-3 can shorten its vectors

    @classmethod
    def from_env(cls, model: str | None = None, **overrides: object) -> OpenAISettings:
        """Settings with ``$OPENAI_BASE_URL`` and ``$OPENAI_API_KEY`` filled in."""
        settings = cls(
            base_url=os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL,
            api_key=os.environ.get(API_KEY_ENV) or None,
        )
        if model:
            settings = replace(settings, model=model)
        return replace(settings, **overrides)  # type: ignore[arg-type]


class OpenAIEmbedder(Embedder):
    """``encode`` via POST ``{base_url}/embeddings`` in batches of ``settings.batch_size``."""

    def __init__(self, settings: OpenAISettings | None = None, **kwargs: object) -> None:
        base = settings or OpenAISettings.from_env()
        self.settings = replace(base, **kwargs) if kwargs else base  # type: ignore[arg-type]
        s = self.settings
        if not s.model:
            raise AnimerecError("openai embedder: no model given (use openai:<model>)")
        if s.batch_size < 1 or s.max_retries < 0:
            raise AnimerecError("openai embedder: batch_size must be ≥ 1 and max_retries ≥ 0")
        self.url = s.base_url.rstrip("/") + "/embeddings"
        if s.api_key is None and urlparse(self.url).hostname == urlparse(DEFAULT_BASE_URL).hostname:
            raise AnimerecError(f"set ${API_KEY_ENV} to use {s.base_url} (no API key found)")
        self._dim = s.dimensions or (KNOWN_DIMS.get(s.model) if self._is_openai() else None)
        self._client: httpx.Client | None = None
        self.requests = 0  # HTTP requests sent, retries included

    def _is_openai(self) -> bool:
        return self.settings.base_url.rstrip("/") == DEFAULT_BASE_URL

    @property
    def name(self) -> str:  # type: ignore[override]
        s = self.settings
        where = "" if self._is_openai() else f"[{urlparse(s.base_url).netloc}]"
        size = f"/d{s.dimensions}" if s.dimensions else ""
        return f"openai{where}:{s.model}{size}"

    @property
    def dim(self) -> int:
        if self._dim is None:  # an unknown model: ask once
            self._dim = int(self._request(["dimension probe"]).shape[1])
        return self._dim

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            import httpx

            headers = {"Content-Type": "application/json"}
            if self.settings.api_key:
                headers["Authorization"] = f"Bearer {self.settings.api_key}"
            self._client = httpx.Client(timeout=self.settings.timeout, headers=headers)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _encode(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        # ``batch_size`` is the local models' knob; requests are sized by ``settings.batch_size``.
        n = self.settings.batch_size
        out = [self._request(list(texts[i : i + n])) for i in range(0, len(texts), n)]
        vectors = np.concatenate(out)
        self._dim = vectors.shape[1]
        return vectors

    def _request(self, batch: list[str]) -> np.ndarray:
        import httpx

        s = self.settings
        payload: dict[str, object] = {"model": s.model, "input": batch}
        if s.dimensions:
            payload["dimensions"] = s.dimensions
        last = ""
        for attempt in range(s.max_retries + 1):
            wait = min(s.max_backoff, s.backoff * 2**attempt)
            try:
                self.requests += 1
                response = self.client.post(self.url, json=payload)
            except httpx.TransportError as exc:  # refused, reset, timed out: worth another try
                last = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code == 200:
                    return self._parse(response, len(batch))
                message = _server_message(response)
                last = f"HTTP {response.status_code}: {message}"
                if response.status_code not in RETRY_STATUSES:
                    raise EmbeddingAPIError(self._refusal(response.status_code, message))
                asked = _retry_after(response)
                wait = min(s.max_backoff, asked) if asked is not None else wait
            if attempt < s.max_retries:
                time.sleep(wait)
        raise EmbeddingAPIError(
            f"embeddings API {self.url} still failing after {s.max_retries + 1} attempts ({last})"
        )

    def _refusal(self, status: int, message: str) -> str:
        what = {
            401: f"rejected the API key (check ${API_KEY_ENV})",
            403: f"refused access (check ${API_KEY_ENV} and the model's permissions)",
            404: f"does not know model {self.settings.model!r} or the path (check ${BASE_URL_ENV})",
        }.get(status, "rejected the request")
        return f"embeddings API {self.url} {what}: HTTP {status}: {message}"

    def _parse(self, response: httpx.Response, expected: int) -> np.ndarray:
        try:
            data = sorted(response.json()["data"], key=lambda d: d["index"])
            vectors = np.asarray([d["embedding"] for d in data], dtype=np.float32)
        except (ValueError, KeyError, TypeError) as exc:
            raise EmbeddingAPIError(
                f"embeddings API {self.url} sent an unexpected response ({exc!r}): "
                f"{response.text[:200]}"
            ) from None
        if vectors.ndim != 2 or len(vectors) != expected:
            raise EmbeddingAPIError(
                f"embeddings API {self.url} returned {len(vectors)} vectors for {expected} texts"
            )
        return vectors

    def __repr__(self) -> str:
        return f"OpenAIEmbedder({self.name!r}, url={self.url!r})"


def _server_message(response: httpx.Response) -> str:
    """The ``error.message`` of an OpenAI-style error body, else the start of the body."""
    try:
        body = response.json()
        error = body.get("error", body) if isinstance(body, dict) else body
        if isinstance(error, dict):
            return str(error.get("message") or error.get("detail") or error)
        return str(error)
    except ValueError:
        return response.text.strip()[:200] or response.reason_phrase


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date), if any."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
