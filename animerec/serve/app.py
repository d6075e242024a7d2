"""The FastAPI application: search, metadata, recommendations, users and their feedback, the page.

:func:`create_app` builds it for one workspace: the public endpoints (:mod:`animerec.serve.routes`),
the users' own (:mod:`animerec.serve.users`, behind tokens), the error answers
(:mod:`animerec.serve.errors`), the guards in front (:mod:`animerec.serve.guard`, rate limits,
CORS) and the start-up state (:mod:`animerec.serve.state`), loaded once in the lifespan
start-up so a request only scores. ``/docs`` and ``/redoc`` use the Swagger UI and ReDoc
assets of the installed ``fastapi-offline`` package, so they work without a network.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from threadpoolctl import threadpool_limits

from animerec.errors import AnimerecError
from animerec.recommend.base import Recommender
from animerec.serve import fan, routes, users
from animerec.serve.auth import TokenCache
from animerec.serve.errors import ERRORS, install_error_handlers
from animerec.serve.guard import Guard
from animerec.serve.protection import Protection, Throttle
from animerec.serve.state import ServeState, available_models, check_models
from animerec.text import DEFAULT_VARIANT
from animerec.workspace import Workspace

log = logging.getLogger("animerec.serve")

STATIC_DIR = Path(__file__).with_name("static")
DOCS_ASSETS = Path(fastapi_offline.__file__).with_name("static")
SERVE_ENV = "ANIMEREC_SERVE"
"""JSON settings :func:`app_from_env` reads: how ``animerec serve --workers N`` configures each
uvicorn worker process (``workspace``, ``db_url``, ``models``, ``default_model``, ``embedder``,
``protection``)."""


def _enumerate_models(app: FastAPI, names: Sequence[str]) -> None:
    """Make every ``model`` field an enum of the served models in the OpenAPI schema, so /docs
    offers a choice and generated clients (and schemathesis) know the valid values."""
    build = app.openapi

    def with_enum(node: dict[str, Any]) -> None:
        keep = {k: v for k, v in node.items() if k in ("title", "description", "default")}
        node.clear()
        node.update(keep, anyOf=[{"type": "string", "enum": list(names)}, {"type": "null"}])

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            for ops in schema.get("paths", {}).values():
                for op in ops.values():
                    for p in op.get("parameters", []):
                        if p.get("name") == "model" and p.get("in") == "query":
                            with_enum(p["schema"])
            for comp in schema.get("components", {}).get("schemas", {}).values():
                if comp.get("title") == "RecommendRequest":
                    with_enum(comp["properties"]["model"])
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(
    workspace: Workspace | str | Path,
    *,
    db_url: str | None = None,
    default_model: str | None = None,
    models: Sequence[str | Recommender] | None = None,
    embedder: str | None = None,
    description_variant: str = DEFAULT_VARIANT,
    blas_threads: int | None = 1,
    protection: Protection | None = None,
) -> FastAPI:
    """The API and web page for ``workspace`` (ingested).

    ``models`` are registry names (loaded or fitted on all workspace users, cached as files) or
    already-fitted :class:`Recommender` objects; default: those of
    :data:`~animerec.serve.state.DEFAULT_MODELS` the registry knows. ``default_model`` defaults
    to adaptive, else hybrid, else ease, else the first served. ``db_url`` is any SQLAlchemy URL; default:
    SQLite ``WS/feedback.db`` (WAL mode). ``blas_threads`` caps BLAS/OpenMP threads while
    serving (after the models are loaded, until shutdown; ``None`` leaves them alone): requests
    run side by side, and per-request thread pools fighting for the same cores made the hybrid
    25× slower under load. ``protection``: rate limits, body limits, CORS origins (default:
    :class:`Protection`'s defaults — limits on, CORS closed).
    """
    protection = protection or Protection()
    uploads = tuple(p for p in fan.UPLOAD_PATHS if p not in protection.upload_paths)
    protection = replace(protection, upload_paths=protection.upload_paths + uploads)
    ws = workspace if isinstance(workspace, Workspace) else Workspace(Path(workspace))
    ws.require_ingested()
    if models is None:
        models = available_models()
    served = [m if isinstance(m, str) else m.name for m in models]
    check_models([m for m in models if isinstance(m, str)])
    if default_model is not None and default_model not in served:
        raise AnimerecError(
            f"default model {default_model!r} is not served; served: {', '.join(served)}"
        )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = ServeState.load(
            ws,
            db_url=db_url,
            models=models,
            default_model=default_model,
            embedder=embedder,
            description_variant=description_variant,
        )
        app.state.serve = state
        log.info(
            "serving %s (default %s) over %d anime",
            ", ".join(state.models),
            state.default_model,
            len(state.catalog),
        )
        limits = threadpool_limits(blas_threads) if blas_threads is not None else None
        try:
            yield
        finally:
            if limits is not None:
                limits.restore_original_limits()
            app.state.serve = None
            state.store.close()

    app = FastAPI(
        title="animerec",
        version="0.1.0",
        summary="Anime recommendations from MyAnimeList ratings, with feedback that persists.",
        lifespan=lifespan,
        responses=ERRORS,
        docs_url=None,
        redoc_url=None,
    )
    app.state.serve = None
    app.state.tokens = TokenCache()
    app.state.throttle = Throttle(protection)
    install_error_handlers(app)
    _enumerate_models(app, served)
    app.include_router(routes.router)
    app.include_router(users.router)
    app.include_router(fan.router)
    if protection.cors_origins:  # closed unless asked: no Access-Control-* header at all
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(protection.cors_origins),
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(Guard, protection=protection)  # outermost: sees every request first

    # --- the web page and the docs ---------------------------------------------------------------
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.mount("/docs-assets", StaticFiles(directory=DOCS_ASSETS), name="docs-assets")

    def page(name: str) -> FileResponse:
        return FileResponse(STATIC_DIR / name, headers={"Cache-Control": "no-cache"})

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return page("index.html")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> FileResponse:
        return page("docs.html")

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> FileResponse:
        return page("redoc.html")

    return app


def app_from_env() -> FastAPI:
    """The app for one uvicorn worker, configured by ``$ANIMEREC_SERVE`` (a uvicorn factory)."""
    cfg = json.loads(os.environ[SERVE_ENV])
    return create_app(
        cfg["workspace"],
        db_url=cfg.get("db_url"),
        models=cfg.get("models"),
        default_model=cfg.get("default_model"),
        embedder=cfg.get("embedder"),
        protection=Protection.from_dict(cfg["protection"]) if "protection" in cfg else None,
    )


__all__ = ["SERVE_ENV", "app_from_env", "create_app"]
