"""Serving: the REST API, the web page for fans, and the feedback they leave (see docs/serve.md)."""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    # Lazy, so `animerec feedback export` does not import FastAPI.
    if name == "create_app":
        from animerec.serve.app import create_app

        return create_app
    raise AttributeError(name)
