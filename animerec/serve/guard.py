"""The ASGI layer in front of the app: security headers, content types, body size.

It runs before FastAPI reads anything, so: every response gets the security headers
(:mod:`animerec.serve.headers`); a POST/PUT/PATCH that is not ``application/json`` (or, on an
upload path, ``multipart/form-data``) is 415 — a cross-site page can send only form and
``text/plain`` bodies without asking first, so none of them reaches a handler; and a body over
the limit is 413 as soon as its ``Content-Length`` or its bytes so far say so, without reading
the rest.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from animerec.serve.headers import raw_security_headers
from animerec.serve.protection import Protection
from animerec.serve.schemas import ErrorBody

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH"})


def _error(status: int, error: str, message: str) -> JSONResponse:
    return JSONResponse(ErrorBody(error=error, message=message).model_dump(mode="json"), status)


class Guard:
    """ASGI middleware enforcing :class:`Protection`'s body limits and content types."""

    def __init__(self, app: ASGIApp, protection: Protection) -> None:
        self.app = app
        self.p = protection
        self.uploads = [re.compile(r) for r in protection.upload_paths]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = raw_security_headers(scope["path"])

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                have = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    (k, v) for k, v in extra if k not in have
                ]
            await send(message)

        refusal, replay = await self._check(scope, receive)
        if refusal is not None:
            await refusal(scope, receive, send_with_headers)
            return
        await self.app(scope, replay, send_with_headers)

    async def _check(self, scope: Scope, receive: Receive) -> tuple[JSONResponse | None, Any]:
        """A refusal, or None and a ``receive`` that replays the (size-checked) body."""
        headers = Headers(scope=scope)
        upload = any(r.fullmatch(scope["path"]) for r in self.uploads)
        limit = self.p.max_upload if upload else self.p.max_body
        if scope["method"] in WRITE_METHODS:
            media = headers.get("content-type", "").split(";", 1)[0].strip().lower()
            allowed = (
                ("application/json", "multipart/form-data") if upload else ("application/json",)
            )
            if media not in allowed:
                return _error(
                    415,
                    "unsupported_media_type",
                    f"send the body as {' or '.join(allowed)} (got {media or 'no Content-Type'})",
                ), receive
        length = headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                return _error(400, "bad_request", "Content-Length is not a number"), receive
            if int(length) > limit:
                return self._too_large(limit), receive
        body = bytearray()
        first: Message = {"type": "http.request", "body": b"", "more_body": False}
        while True:
            message = await receive()
            if message["type"] != "http.request":
                first = message  # a disconnect: the app sees it on its first read
                break
            body += message.get("body", b"")
            if len(body) > limit:
                return self._too_large(limit), receive
            if not message.get("more_body", False):
                first = {"type": "http.request", "body": bytes(body), "more_body": False}
                break
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return first
            return await receive()

        return None, replay

    @staticmethod
    def _too_large(limit: int) -> JSONResponse:
        return _error(413, "payload_too_large", f"the request body is over {limit:,} bytes")


__all__ = ["Guard"]
