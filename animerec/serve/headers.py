"""The security headers every response carries (the page, the API, the docs, the errors).

The content security policy lets a page load only this server's own scripts, styles, images
and API, never be framed, and never post a form elsewhere. The docs pages (Swagger UI, ReDoc,
served from the installed ``fastapi-offline`` package) also need inline *styles*, which their
bundles insert at run time; scripts stay same-origin only there too.
"""

from __future__ import annotations

_BASE = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "font-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
APP_CSP = "; ".join(f"{k} {v}" for k, v in _BASE.items())
DOCS_CSP = "; ".join(
    f"{k} {v}"
    for k, v in {
        **_BASE,
        "style-src": "'self' 'unsafe-inline'",
        "worker-src": "'self' blob:",
    }.items()
)
DOCS_PATHS = frozenset({"/docs", "/redoc"})

_COMMON = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]
_RAW = {
    False: [*_COMMON, (b"content-security-policy", APP_CSP.encode())],
    True: [*_COMMON, (b"content-security-policy", DOCS_CSP.encode())],
}


def raw_security_headers(path: str) -> list[tuple[bytes, bytes]]:
    """The headers for a response to ``path``, as ASGI byte pairs."""
    return _RAW[path in DOCS_PATHS]


def security_headers(path: str) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in raw_security_headers(path)}


__all__ = ["APP_CSP", "DOCS_CSP", "raw_security_headers", "security_headers"]
