"""Who may touch a user's data: an unguessable id and a bearer token only its owner holds.

``POST /users`` makes a random public id and a random token (256 bits), answers both once and
stores only ``scrypt(token, salt)``. Every ``/users/{id}…`` call sends
``Authorization: Bearer <token>``: none (or not a bearer) is 401; a token that is not this
user's, or a user that does not exist, is the same 404 — with the same scrypt work on both
paths, so neither the answer nor its timing says whether another person's id exists.

A verified token is remembered per process as its SHA-256 (next to the stored hash it matched),
so a user's later requests cost a dictionary look-up instead of 50 ms of scrypt; the database
row is still read on every request, so a deleted user is refused at once by every worker.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
from collections import OrderedDict
from typing import Annotated

from fastapi import Depends, Request
from fastapi import Path as PathParam
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from animerec.serve.errors import ApiError, not_found
from animerec.serve.state import ServeState, get_state

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
"""scrypt cost (16 MiB, ~50 ms here): tokens are random, so this only guards a leaked database."""
PUBLIC_ID_PATTERN = r"^[A-Za-z0-9_-]{16,64}$"
_CACHE_SIZE = 10_000


def new_public_id() -> str:
    return secrets.token_urlsafe(16)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def _b64(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).decode().rstrip("=")


def _unb64(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def _scrypt(token: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        token.encode(), salt=salt, n=n, r=r, p=p, maxmem=128 * n * r * 2, dklen=32
    )


def hash_token(token: str) -> str:
    """``scrypt$N$r$p$salt$hash`` (base64url): what the database stores instead of the token."""
    salt = secrets.token_bytes(16)
    digest = _scrypt(token, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_token(token: str, stored: str) -> bool:
    """Whether ``token`` hashes to ``stored`` (constant-time comparison)."""
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        got = _scrypt(token, _unb64(salt), int(n), int(r), int(p))
        return hmac.compare_digest(got, _unb64(digest))
    except (ValueError, TypeError):
        return False


_DUMMY = hash_token(new_token())
"""Verified against when no such user exists, so that answer takes as long as a wrong token."""


class TokenCache:
    """Recently verified tokens: ``public id -> (stored hash, sha256(token))``, bounded, LRU."""

    def __init__(self, size: int = _CACHE_SIZE) -> None:
        self.size = size
        self._items: OrderedDict[str, tuple[str, bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def remember(self, public_id: str, stored: str, token: str) -> None:
        """A token known good (just issued by POST /users): its first use costs no scrypt."""
        with self._lock:
            self._items[public_id] = (stored, hashlib.sha256(token.encode()).digest())
            self._items.move_to_end(public_id)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def check(self, public_id: str, stored: str, token: str) -> bool:
        key = hashlib.sha256(token.encode()).digest()
        with self._lock:
            hit = self._items.get(public_id)
            if hit is not None and hit[0] == stored and hmac.compare_digest(hit[1], key):
                self._items.move_to_end(public_id)
                return True
        if not verify_token(token, stored):
            return False
        self.remember(public_id, stored, token)
        return True

    def forget(self, public_id: str) -> None:
        with self._lock:
            self._items.pop(public_id, None)


def authenticate(s: ServeState, cache: TokenCache, public_id: str, token: str | None) -> int:
    """The database id of ``public_id`` if ``token`` is its token; 401 without one, else 404."""
    if not token:
        raise ApiError(
            401,
            "unauthorized",
            "send the user's token as 'Authorization: Bearer <token>' (from POST /users)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    cred = s.store.credentials(public_id)
    if cred is None:
        verify_token(token, _DUMMY)
    elif cache.check(public_id, cred[1], token):
        return cred[0]
    raise not_found(f"no user {public_id} with this token: create one with POST /users")


_bearer = HTTPBearer(auto_error=False, description="the token POST /users answered, once")


UserIdPath = Annotated[
    str,
    PathParam(pattern=PUBLIC_ID_PATTERN, max_length=64, description="the id from POST /users"),
]


def current_user(
    request: Request,
    user_id: UserIdPath,
    s: Annotated[ServeState, Depends(get_state)],
    cred: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> int:
    """The caller's database id, when the bearer token is the path user's (a dependency)."""
    cache: TokenCache = request.app.state.tokens
    return authenticate(s, cache, user_id, cred.credentials if cred else None)


CurrentUser = Annotated[int, Depends(current_user)]

__all__ = [
    "CurrentUser",
    "TokenCache",
    "UserIdPath",
    "authenticate",
    "current_user",
    "hash_token",
    "new_public_id",
    "new_token",
    "verify_token",
]
