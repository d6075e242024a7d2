"""How much the server lets one client do: rate limits, body sizes, allowed origins.

:class:`Protection` is the one settings object (``animerec serve`` options and ``ANIMEREC_*``
environment variables fill it); :class:`Throttle` applies its rate limits with the ``limits``
library (moving windows, per client address), answering 429 with ``Retry-After``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from limits import RateLimitItem, parse_many
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from animerec.errors import AnimerecError
from animerec.serve.errors import ApiError

MIB = 1 << 20
OFF = ("", "off", "none", "0")


@dataclass(frozen=True)
class Protection:
    """Abuse limits of one server (``None`` turns a rate limit off, e.g. for load tests).

    Rates are ``limits`` strings, several joined by ``;`` (``"10/minute;100/day"``), counted per
    client address — behind a reverse proxy run uvicorn with ``--proxy-headers`` so that is the
    visitor's address, not the proxy's. ``rate_storage`` is a ``limits`` storage URI:
    ``memory://`` counts per process (so ``--workers N`` allows N times the rate);
    ``redis://host`` shares the counts.
    """

    user_rate: str | None = "10/minute;200/day"
    write_rate: str | None = "120/minute"
    rate_storage: str = "memory://"
    max_body: int = 1 * MIB
    max_upload: int = 8 * MIB
    upload_paths: tuple[str, ...] = ()
    """Path regexes whose POST/PUT take multipart uploads up to ``max_upload`` bytes."""
    cors_origins: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("user_rate", "write_rate"):
            v = getattr(self, name)
            if v is not None and v.strip().lower() in OFF:
                object.__setattr__(self, name, None)
            elif v is not None:
                _parse(name, v)
        for name in ("max_body", "max_upload"):
            if getattr(self, name) < 1:
                raise AnimerecError(f"{name}: must be at least 1 byte, got {getattr(self, name)}")

    @classmethod
    def off(cls, **kw: Any) -> Protection:
        """No rate limits (tests and benchmarks that need bulk); the other settings as given."""
        return cls(user_rate=None, write_rate=None, **kw)

    def as_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.__dict__.items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Protection:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


def _parse(name: str, rate: str) -> list[RateLimitItem]:
    try:
        return parse_many(rate)
    except ValueError as exc:
        raise AnimerecError(
            f"{name}: {rate!r} is not a rate like '10/minute' or '10/minute;100/day' ({exc})"
        ) from None


class Throttle:
    """The rate limits of one app: ``hit(kind, request)`` counts one request or raises 429."""

    def __init__(self, p: Protection) -> None:
        self.items: dict[str, list[RateLimitItem]] = {}
        if p.user_rate is not None:
            self.items["create_user"] = _parse("user_rate", p.user_rate)
        if p.write_rate is not None:
            self.items["write"] = _parse("write_rate", p.write_rate)
        self.limiter = MovingWindowRateLimiter(storage_from_string(p.rate_storage))

    def hit(self, kind: str, request: Request) -> None:
        items = self.items.get(kind)
        if not items:
            return
        client = request.client.host if request.client else "unknown"
        for item in items:
            if not self.limiter.hit(item, kind, client):
                reset = self.limiter.get_window_stats(item, kind, client).reset_time
                wait = max(1, math.ceil(reset - time.time()))
                raise ApiError(
                    429,
                    "rate_limited",
                    f"too many requests ({item}) from this address: retry in {wait} s",
                    headers={"Retry-After": str(wait)},
                )


async def limit_user_creation(request: Request) -> None:
    """Dependency: one count against the client's user-creation rate."""
    request.app.state.throttle.hit("create_user", request)


async def limit_writes(request: Request) -> None:
    """Dependency: one count against the client's write rate (ratings, deletions)."""
    request.app.state.throttle.hit("write", request)


__all__ = ["MIB", "Protection", "Throttle", "limit_user_creation", "limit_writes"]
