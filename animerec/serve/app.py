"""The FastAPI application: search, metadata, recommendations, users and their feedback, the page.

:func:`create_app` builds it for one workspace. Everything slow — the catalog, the title index,
the generated descriptions, fitted models (loaded from the workspace or fitted once and cached
there by :func:`animerec.recommend.store.fitted`) — is loaded once in the lifespan start-up, so a
request only scores. Errors are JSON bodies (:class:`~animerec.serve.schemas.ErrorBody`) without
stack traces: 404 for unknown anime (with close matches), users and ratings; 422 naming the field
for bad input.

Liked titles enter a history as rating 10, disliked ones as rating 1: the models read them the
way they read a MAL promoter and a MAL detractor, and both are excluded from the results.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
from fastapi import FastAPI, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from threadpoolctl import threadpool_limits

from animerec.data.catalog import Catalog
from animerec.data.ratings import History
from animerec.data.titles import TitleIndex
from animerec.errors import AnimerecError, UnknownTitleError
from animerec.recommend.base import Recommendation, Recommender
from animerec.serve.db import FeedbackStore
from animerec.serve.schemas import (
    MAX_ID,
    MAX_K,
    MAX_SEARCH,
    MAX_TITLE,
    AnimeDetail,
    AnimeSummary,
    ErrorBody,
    FieldError,
    Health,
    InputItem,
    Match,
    RatingIn,
    RatingOut,
    RecommendedAnime,
    RecommendRequest,
    RecommendResponse,
    SearchHit,
    SearchResponse,
    UserOut,
)
from animerec.text import DEFAULT_VARIANT, describe
from animerec.workspace import Workspace

log = logging.getLogger("animerec.serve")

STATIC_DIR = Path(__file__).with_name("static")
LIKED, DISLIKED = 10, 1
"""Ratings that a liked and a disliked title stand for (a MAL promoter and a detractor)."""
PREFERRED_DEFAULTS = ("hybrid", "ease")
"""The serving default: the first of these that is served (else the first model served)."""
DEFAULT_MODELS = ("hybrid", "ease", "itemknn", "popularity")
"""What ``animerec serve`` loads unless told otherwise (those the registry knows)."""
N_MATCHES = 5


# --- errors -------------------------------------------------------------------------------------
class ApiError(Exception):
    """An error the API answers with a JSON :class:`ErrorBody`."""

    def __init__(
        self,
        status: int,
        error: str,
        message: str,
        *,
        fields: Sequence[FieldError] = (),
        matches: Sequence[Match] = (),
    ) -> None:
        super().__init__(message)
        self.status, self.error, self.message = status, error, message
        self.fields, self.matches = list(fields), list(matches)

    def body(self) -> dict[str, Any]:
        return ErrorBody(
            error=self.error, message=self.message, fields=self.fields, matches=self.matches
        ).model_dump(mode="json")


def not_found(message: str, matches: Sequence[Match] = ()) -> ApiError:
    return ApiError(404, "not_found", message, matches=matches)


def invalid(field: str, message: str) -> ApiError:
    return ApiError(
        422,
        "validation_error",
        f"{field}: {message}",
        fields=[FieldError(field=field, message=message)],
    )


_TYPE_TAG = re.compile(r"^(int|str|float|bool|constrained-[a-z]+|[a-z-]+\[.*\])$")


def _field_name(loc: Sequence[str | int]) -> str:
    """``("body", "liked", 2, "int")`` -> ``liked[2]``: the field a person would look for."""
    parts = list(loc[1:]) if loc and loc[0] in ("body", "query", "path", "header") else list(loc)
    name = ""
    for p in parts:
        if isinstance(p, int):
            name += f"[{p}]"
        elif _TYPE_TAG.match(p) and name:
            continue  # which member of a union failed: noise to the reader
        else:
            name += f".{p}" if name else p
    return name or (str(loc[0]) if loc else "body")


def _validation_error(exc: RequestValidationError) -> ApiError:
    """One entry per field (a union's failed members are merged into one message)."""
    by_field: dict[str, FieldError] = {}
    for e in exc.errors():
        loc = [p if isinstance(p, int) else str(p) for p in e.get("loc", ())]
        name = _field_name(loc)
        msg = str(e.get("msg", "invalid"))
        prev = by_field.get(name)
        if prev is None:
            by_field[name] = FieldError(field=name, message=msg, loc=loc)
        elif msg not in prev.message:
            prev.message = f"{prev.message}, or {msg[0].lower()}{msg[1:]}"
    fields = list(by_field.values())
    summary = "; ".join(f"{f.field}: {f.message}" for f in fields[:5]) or "invalid request"
    return ApiError(422, "validation_error", summary, fields=fields)


def _install_error_handlers(app: FastAPI) -> None:
    async def api_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return JSONResponse(exc.body(), status_code=exc.status)

    async def validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        err = _validation_error(exc)
        return JSONResponse(err.body(), status_code=err.status)

    async def http_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 400:  # FastAPI's "error parsing the body" (say, not UTF-8)
            err = invalid("body", f"{exc.detail}: send JSON in UTF-8")
            return JSONResponse(err.body(), status_code=err.status)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        body = ErrorBody(error=code, message=str(exc.detail)).model_dump(mode="json")
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    async def expected(_: Request, exc: Exception) -> JSONResponse:
        body = ErrorBody(error="bad_request", message=str(exc)).model_dump(mode="json")
        return JSONResponse(body, status_code=400)

    async def internal(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        body = ErrorBody(error="internal_error", message="internal server error")
        return JSONResponse(body.model_dump(mode="json"), status_code=500)

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(RequestValidationError, validation)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(AnimerecError, expected)
    app.add_exception_handler(Exception, internal)


# --- what start-up loads ------------------------------------------------------------------------
def _text(v: Any) -> str | None:
    if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
        return None
    s = str(v).strip()
    return s or None


def _num(v: Any, kind: type) -> Any:
    if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
        return None
    return kind(v)


_YEAR = re.compile(r"\b(19\d\d|20\d\d)\b")


def _year(premiered: str | None, aired: str | None) -> int | None:
    for s in (premiered, aired):
        m = _YEAR.search(s or "")
        if m:
            return int(m.group(1))
    return None


def anime_cards(catalog: Catalog) -> list[dict[str, Any]]:
    """The summary fields of every anime, by catalog position (built once, copied per response)."""
    cards = []
    for rec in catalog.frame.to_dict("records"):
        premiered, aired = _text(rec.get("premiered")), _text(rec.get("aired"))
        genres = _text(rec.get("genres"))
        cards.append(
            {
                "anime_id": int(rec["anime_id"]),
                "name": str(rec["name"]),
                "english_name": _text(rec.get("english_name")),
                "type": _text(rec.get("type")),
                "episodes": _num(rec.get("episodes"), int),
                "season": premiered,
                "year": _year(premiered, aired),
                "genres": [g.strip() for g in genres.split(",") if g.strip()] if genres else [],
                "mal_score": _num(rec.get("score"), float),
                "members": _num(rec.get("members"), int),
            }
        )
    # Validated once here, so responses can be built without validating again.
    return [AnimeSummary.model_validate(c).model_dump() for c in cards]


def _load_model(
    workspace: Workspace, model: str | Recommender, embedder: str | None
) -> tuple[str, Recommender]:
    if isinstance(model, Recommender):
        return model.name, model
    from animerec.recommend.store import fitted

    return model, fitted(workspace, model, embedder=embedder, log=log.info)


def available_models(names: Sequence[str] = DEFAULT_MODELS) -> list[str]:
    """Those of ``names`` that the recommender registry knows."""
    from animerec.recommend.registry import RECOMMENDERS

    return [n for n in names if n in RECOMMENDERS]


def check_models(names: Sequence[str]) -> None:
    """Unknown model names fail before start-up, naming the known ones."""
    from animerec.recommend.registry import check_model_names

    check_model_names(names)


@dataclass
class ServeState:
    """Everything a request reads; built once at start-up, read-only afterwards."""

    catalog: Catalog
    titles: TitleIndex
    cards: list[dict[str, Any]]
    descriptions: list[str]
    models: dict[str, Recommender]
    default_model: str
    store: FeedbackStore
    explore: bool

    def __post_init__(self) -> None:
        # A dict lookup per id: the request path resolves a few ids and must stay cheap.
        self.pos_of: dict[int, int] = {int(a): i for i, a in enumerate(self.catalog.anime_ids)}

    @classmethod
    def load(
        cls,
        workspace: Workspace,
        *,
        db_url: str | None,
        models: Sequence[str | Recommender] | None,
        default_model: str | None,
        embedder: str | None,
        description_variant: str,
    ) -> ServeState:
        workspace.require_ingested()
        catalog = Catalog.read(workspace.anime)
        wanted = list(models) if models is not None else available_models()
        if not wanted:
            raise AnimerecError("no model to serve: give at least one model name")
        loaded: dict[str, Recommender] = {}
        for m in wanted:
            name, rec = _load_model(workspace, m, embedder)
            if rec.catalog is None:
                raise AnimerecError(f"model {name!r} is not fitted")
            loaded[name] = rec
        if default_model is None:
            default_model = next((m for m in PREFERRED_DEFAULTS if m in loaded), next(iter(loaded)))
        if default_model not in loaded:
            raise AnimerecError(
                f"default model {default_model!r} is not served; served: {', '.join(loaded)}"
            )
        state = cls(
            catalog=catalog,
            titles=TitleIndex(catalog),
            cards=anime_cards(catalog),
            descriptions=describe(catalog, description_variant),
            models=loaded,
            default_model=default_model,
            store=FeedbackStore.for_workspace(workspace, db_url),
            explore=importlib.util.find_spec("animerec.recommend.explore") is not None,
        )
        state.warm_up()
        return state

    def warm_up(self) -> None:
        """One request per model, so lazily built caches exist before the first real request."""
        first = History.of([int(self.catalog.anime_ids[0])])
        for rec in self.models.values():
            rec.recommend([first], 10)
        self.titles.search("a", 1)

    # --- lookups -------------------------------------------------------------------------------
    def position(self, anime_id: int, field: str = "anime_id") -> int:
        """Catalog position of an id, or 404 naming the nearest ids the catalog does have."""
        pos = self.pos_of.get(anime_id, -1)
        if pos < 0:
            raise not_found(f"{field}: no anime has id {anime_id}", self.nearest_ids(anime_id))
        return pos

    def nearest_ids(self, anime_id: int, n: int = N_MATCHES) -> list[Match]:
        ids = self.catalog.anime_ids
        order = np.argsort(np.abs(ids - np.int64(min(max(anime_id, 0), MAX_ID))), kind="stable")
        return [Match(anime_id=int(ids[i]), name=self.cards[i]["name"]) for i in order[:n]]

    def resolve(self, ref: int | str, field: str) -> int:
        """An anime id from an id or a title; 404 with close matches otherwise."""
        if isinstance(ref, int):
            self.position(ref, field)
            return ref
        try:
            return self.titles.resolve(ref)
        except UnknownTitleError as exc:
            close = [
                Match(anime_id=m.anime_id, name=m.title) for m in self.titles.search(ref, N_MATCHES)
            ]
            raise not_found(f"{field}: {exc}", close) from None

    def model(self, name: str | None) -> tuple[str, Recommender]:
        name = name or self.default_model
        rec = self.models.get(name)
        if rec is None:
            raise invalid("model", f"unknown model {name!r}; served: {', '.join(self.models)}")
        return name, rec

    def check_explore(self, explore: float) -> None:
        if explore > 0 and not self.explore:
            raise invalid("explore", "exploration re-ranking is not available in this build")

    def summary(self, anime_id: int) -> dict[str, Any]:
        return self.cards[self.position(anime_id)]

    def recommended(self, recs: list[Recommendation]) -> list[RecommendedAnime]:
        pos = [self.pos_of[r.anime_id] for r in recs]
        # model_construct: the cards were validated at start-up; validating them again took a
        # tenth of a response's time in the load benchmark's profile.
        return [
            RecommendedAnime.model_construct(
                rank=i + 1, score=float(r.score), reason=r.reason, **self.cards[p]
            )
            for i, (r, p) in enumerate(zip(recs, pos, strict=True))
        ]

    def recommend(
        self, history: History, k: int, model: str | None, explore: float
    ) -> tuple[str, list[RecommendedAnime]]:
        name, rec = self.model(model)
        self.check_explore(explore)
        if len(history) == 0:
            return name, []
        recs = rec.recommend([history], k, explore=explore)[0]
        return name, self.recommended(recs)


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


def _json(body: Any) -> Response:
    """A pydantic body serialised once (FastAPI would validate it again against response_model)."""
    return Response(body.model_dump_json(), media_type="application/json")


# --- the app ------------------------------------------------------------------------------------
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "a request the workspace cannot serve"},
    404: {"model": ErrorBody, "description": "unknown anime, user or rating (with close matches)"},
    422: {"model": ErrorBody, "description": "invalid input; `fields` names each bad field"},
}

AnimeIdPath = Annotated[int, PathParam(ge=0, le=MAX_ID, description="MyAnimeList anime id")]
UserIdPath = Annotated[int, PathParam(ge=1, le=MAX_ID, description="id from POST /users")]
KQuery = Annotated[int, Query(ge=1, le=MAX_K, description="how many")]
ModelQuery = Annotated[str | None, Query(min_length=1, max_length=50, description="served model")]
ExploreQuery = Annotated[float, Query(ge=0.0, le=1.0, description="0 exploit … 1 explore")]


def create_app(
    workspace: Workspace | str | Path,
    *,
    db_url: str | None = None,
    default_model: str | None = None,
    models: Sequence[str | Recommender] | None = None,
    embedder: str | None = None,
    description_variant: str = DEFAULT_VARIANT,
    blas_threads: int | None = 1,
) -> FastAPI:
    """The API and web page for ``workspace`` (ingested).

    ``models`` are registry names (loaded or fitted on all workspace users, cached as files) or
    already-fitted :class:`Recommender` objects; default: those of :data:`DEFAULT_MODELS` the
    registry knows. ``default_model`` defaults to hybrid, else ease, else the first served.
    ``db_url`` is any SQLAlchemy URL; default: SQLite ``WS/feedback.db`` (WAL mode).
    ``blas_threads`` caps BLAS/OpenMP threads while serving (after the models are loaded, until
    shutdown; ``None`` leaves them alone): requests run side by side, and per-request thread
    pools fighting for the same cores made the hybrid 25× slower under load.
    """
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
    holder: dict[str, ServeState] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        holder["state"] = ServeState.load(
            ws,
            db_url=db_url,
            models=models,
            default_model=default_model,
            embedder=embedder,
            description_variant=description_variant,
        )
        log.info(
            "serving %s (default %s) over %d anime",
            ", ".join(holder["state"].models),
            holder["state"].default_model,
            len(holder["state"].catalog),
        )
        limits = threadpool_limits(blas_threads) if blas_threads is not None else None
        try:
            yield
        finally:
            if limits is not None:
                limits.restore_original_limits()
            holder.pop("state").store.close()

    app = FastAPI(
        title="animerec",
        version="0.1.0",
        summary="Anime recommendations from MyAnimeList ratings, with feedback that persists.",
        lifespan=lifespan,
        responses=ERRORS,
    )
    _install_error_handlers(app)
    _enumerate_models(app, served)

    def state() -> ServeState:
        s = holder.get("state")
        if s is None:  # a request outside the lifespan (never under uvicorn)
            raise ApiError(503, "unavailable", "the server is still starting")
        return s

    # --- service ---------------------------------------------------------------------------------
    @app.get("/health", response_model=Health, tags=["service"])
    async def health() -> Health:
        s = state()
        return Health(
            status="ok",
            models=list(s.models),
            default_model=s.default_model,
            anime=len(s.catalog),
            explore=s.explore,
            database=s.store.engine.dialect.name,
        )

    # --- anime -----------------------------------------------------------------------------------
    @app.get("/anime/search", response_model=SearchResponse, tags=["anime"])
    async def search(
        q: Annotated[str, Query(min_length=1, max_length=MAX_TITLE, description="title text")],
        limit: Annotated[int, Query(ge=1, le=MAX_SEARCH)] = 10,
    ) -> Response:
        """Fuzzy title search over Name and English name: exact, then prefix, then similar."""
        s = state()
        hits = s.titles.search(q, limit)
        return _json(
            SearchResponse(
                query=q, items=[SearchHit(match=m.score, **s.summary(m.anime_id)) for m in hits]
            )
        )

    @app.get("/anime/{anime_id}", response_model=AnimeDetail, tags=["anime"])
    async def anime(anime_id: AnimeIdPath) -> AnimeDetail:
        """Metadata and the generated description the text models read."""
        s = state()
        pos = s.position(anime_id)
        row = s.catalog.frame.iloc[pos]
        extra = {
            k: _text(row.get(k))
            for k in ("japanese_name", "aired", "studios", "producers", "source", "duration")
        }
        return AnimeDetail(
            **s.cards[pos],
            **extra,
            age_rating=_text(row.get("age_rating")),
            synopsis=_text(row.get("synopsis")),
            description=s.descriptions[pos],
        )

    @app.get("/anime/{anime_id}/similar", response_model=RecommendResponse, tags=["anime"])
    async def similar(anime_id: AnimeIdPath, model: ModelQuery = None, k: KQuery = 10) -> Response:
        """What the model recommends to someone who liked just this anime."""
        s = state()
        pos = s.position(anime_id)
        name, items = s.recommend(History.of([anime_id], [LIKED]), k, model, 0.0)
        src = [InputItem(anime_id=anime_id, name=s.cards[pos]["name"], rating=LIKED)]
        return _json(RecommendResponse(model=name, k=k, explore=0.0, input=src, items=items))

    # --- recommend -------------------------------------------------------------------------------
    @app.post("/recommend", response_model=RecommendResponse, tags=["recommend"])
    async def recommend(req: RecommendRequest) -> Response:
        """Recommendations for liked / disliked anime (ids or titles) and rated history."""
        s = state()
        given: dict[int, tuple[int, str]] = {}

        def add(ref: int | str, rating: int, field: str) -> None:
            aid = s.resolve(ref, field)
            prev = given.get(aid)
            if prev is not None and prev[0] != rating:
                raise invalid(
                    field,
                    f"{s.summary(aid)['name']} ({aid}) is already given as {prev[1]} "
                    f"with rating {prev[0]}",
                )
            given.setdefault(aid, (rating, field))

        for i, h in enumerate(req.history):
            add(h.anime, h.rating, f"history[{i}].anime")
        for i, ref in enumerate(req.liked):
            add(ref, LIKED, f"liked[{i}]")
        for i, ref in enumerate(req.disliked):
            add(ref, DISLIKED, f"disliked[{i}]")
        ids = list(given)
        history = History.of(ids, [given[a][0] for a in ids])
        name, items = s.recommend(history, req.k, req.model, req.explore)
        inputs = [InputItem(anime_id=a, name=s.summary(a)["name"], rating=given[a][0]) for a in ids]
        return _json(
            RecommendResponse(model=name, k=req.k, explore=req.explore, input=inputs, items=items)
        )

    # --- users and feedback ----------------------------------------------------------------------
    def user_out(s: ServeState, user_id: int) -> UserOut:
        rated = s.store.ratings(user_id)
        return UserOut(
            id=user_id,
            ratings=[
                RatingOut(
                    anime_id=r.anime_id,
                    name=s.summary(r.anime_id)["name"],
                    rating=r.rating,
                    updated_at=r.updated_at,
                )
                for r in rated
                if r.anime_id in s.pos_of
            ],
        )

    def require_user(s: ServeState, user_id: int) -> None:
        if not s.store.user_exists(user_id):
            raise not_found(f"no user has id {user_id}: create one with POST /users")

    @app.post("/users", response_model=UserOut, status_code=201, tags=["users"])
    def create_user() -> UserOut:
        """A new user with no ratings; keep the id to rate and get recommendations."""
        s = state()
        return UserOut(id=s.store.create_user(), ratings=[])

    @app.get("/users/{user_id}", response_model=UserOut, tags=["users"])
    def get_user(user_id: UserIdPath) -> UserOut:
        s = state()
        require_user(s, user_id)
        return user_out(s, user_id)

    @app.put("/users/{user_id}/ratings/{anime_id}", response_model=RatingOut, tags=["users"])
    def put_rating(user_id: UserIdPath, anime_id: AnimeIdPath, body: RatingIn) -> RatingOut:
        """Rate an anime 1–10 (replaces an earlier rating)."""
        s = state()
        require_user(s, user_id)
        card = s.summary(anime_id)
        stored, _ = s.store.set_rating(user_id, anime_id, body.rating)
        return RatingOut(
            anime_id=anime_id, name=card["name"], rating=stored.rating, updated_at=stored.updated_at
        )

    @app.delete(
        "/users/{user_id}/ratings/{anime_id}",
        status_code=204,
        response_class=Response,
        tags=["users"],
    )
    def delete_rating(user_id: UserIdPath, anime_id: AnimeIdPath) -> Response:
        s = state()
        require_user(s, user_id)
        if not s.store.delete_rating(user_id, anime_id):
            raise not_found(f"user {user_id} has not rated anime {anime_id}")
        return Response(status_code=204)

    @app.get("/users/{user_id}/recommendations", response_model=RecommendResponse, tags=["users"])
    def user_recommendations(
        user_id: UserIdPath,
        k: KQuery = 10,
        model: ModelQuery = None,
        explore: ExploreQuery = 0.0,
    ) -> Response:
        """Recommendations from the user's stored ratings (empty until they rate something)."""
        s = state()
        require_user(s, user_id)
        rated = [r for r in s.store.ratings(user_id) if r.anime_id in s.pos_of]
        history = History.of([r.anime_id for r in rated], [r.rating for r in rated])
        name, items = s.recommend(history, k, model, explore)
        inputs = [
            InputItem(anime_id=r.anime_id, name=s.summary(r.anime_id)["name"], rating=r.rating)
            for r in rated
        ]
        return _json(RecommendResponse(model=name, k=k, explore=explore, input=inputs, items=items))

    # --- the web page ----------------------------------------------------------------------------
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html")

    return app


SERVE_ENV = "ANIMEREC_SERVE"
"""JSON settings :func:`app_from_env` reads: how ``animerec serve --workers N`` configures each
uvicorn worker process (``workspace``, ``db_url``, ``models``, ``default_model``, ``embedder``)."""


def app_from_env() -> FastAPI:
    """The app for one uvicorn worker, configured by ``$ANIMEREC_SERVE`` (a uvicorn factory)."""
    cfg = json.loads(os.environ[SERVE_ENV])
    return create_app(
        cfg["workspace"],
        db_url=cfg.get("db_url"),
        models=cfg.get("models"),
        default_model=cfg.get("default_model"),
        embedder=cfg.get("embedder"),
    )


__all__ = ["ApiError", "ServeState", "app_from_env", "create_app"]
