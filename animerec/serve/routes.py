"""The API's endpoints (one :class:`~fastapi.APIRouter`): service, anime, recommend, users.

Each handler reads the start-up :class:`~animerec.serve.state.ServeState` (``app.state.serve``,
through :func:`get_state`) and answers JSON; errors are raised as
:class:`~animerec.serve.errors.ApiError` and rendered by :mod:`animerec.serve.errors`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi import Path as PathParam

from animerec.data.ratings import History
from animerec.serve.errors import ApiError, invalid, not_found
from animerec.serve.schemas import (
    MAX_ID,
    MAX_K,
    MAX_SEARCH,
    MAX_TITLE,
    AnimeDetail,
    Health,
    InputItem,
    RatingIn,
    RatingOut,
    RecommendRequest,
    RecommendResponse,
    SearchHit,
    SearchResponse,
    UserOut,
)
from animerec.serve.state import DISLIKED, LIKED, ServeState, text


async def get_state(request: Request) -> ServeState:
    """The app's start-up state (503 for a request outside the lifespan — never under uvicorn)."""
    s = getattr(request.app.state, "serve", None)
    if s is None:
        raise ApiError(503, "unavailable", "the server is still starting")
    return s


State = Annotated[ServeState, Depends(get_state)]
AnimeIdPath = Annotated[int, PathParam(ge=0, le=MAX_ID, description="MyAnimeList anime id")]
UserIdPath = Annotated[int, PathParam(ge=1, le=MAX_ID, description="id from POST /users")]
KQuery = Annotated[int, Query(ge=1, le=MAX_K, description="how many")]
ModelQuery = Annotated[str | None, Query(min_length=1, max_length=50, description="served model")]
ExploreQuery = Annotated[float, Query(ge=0.0, le=1.0, description="0 exploit … 1 explore")]


def _json(body: Any) -> Response:
    """A pydantic body serialised once (FastAPI would validate it again against response_model)."""
    return Response(body.model_dump_json(), media_type="application/json")


router = APIRouter()


# --- service -------------------------------------------------------------------------------------
@router.get("/health", response_model=Health, tags=["service"])
async def health(s: State) -> Health:
    return Health(
        status="ok",
        models=list(s.models),
        default_model=s.default_model,
        anime=len(s.catalog),
        explore=s.explore,
        database=s.store.engine.dialect.name,
    )


# --- anime ---------------------------------------------------------------------------------------
@router.get("/anime/search", response_model=SearchResponse, tags=["anime"])
async def search(
    s: State,
    q: Annotated[str, Query(min_length=1, max_length=MAX_TITLE, description="title text")],
    limit: Annotated[int, Query(ge=1, le=MAX_SEARCH)] = 10,
) -> Response:
    """Fuzzy title search over Name and English name: exact, then prefix, then similar."""
    hits = s.titles.search(q, limit)
    return _json(
        SearchResponse(
            query=q, items=[SearchHit(match=m.score, **s.summary(m.anime_id)) for m in hits]
        )
    )


@router.get("/anime/{anime_id}", response_model=AnimeDetail, tags=["anime"])
async def anime(s: State, anime_id: AnimeIdPath) -> AnimeDetail:
    """Metadata and the generated description the text models read."""
    pos = s.position(anime_id)
    row = s.catalog.frame.iloc[pos]
    extra = {
        k: text(row.get(k))
        for k in ("japanese_name", "aired", "studios", "producers", "source", "duration")
    }
    return AnimeDetail(
        **s.cards[pos],
        **extra,
        age_rating=text(row.get("age_rating")),
        synopsis=text(row.get("synopsis")),
        description=s.descriptions[pos],
    )


@router.get("/anime/{anime_id}/similar", response_model=RecommendResponse, tags=["anime"])
async def similar(
    s: State, anime_id: AnimeIdPath, model: ModelQuery = None, k: KQuery = 10
) -> Response:
    """What the model recommends to someone who liked just this anime."""
    pos = s.position(anime_id)
    name, items = s.recommend(History.of([anime_id], [LIKED]), k, model, 0.0)
    src = [InputItem(anime_id=anime_id, name=s.cards[pos]["name"], rating=LIKED)]
    return _json(RecommendResponse(model=name, k=k, explore=0.0, input=src, items=items))


# --- recommend -----------------------------------------------------------------------------------
@router.post("/recommend", response_model=RecommendResponse, tags=["recommend"])
async def recommend(s: State, req: RecommendRequest) -> Response:
    """Recommendations for liked / disliked anime (ids or titles) and rated history."""
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


# --- users and feedback --------------------------------------------------------------------------
def _user_out(s: ServeState, user_id: int) -> UserOut:
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


def _require_user(s: ServeState, user_id: int) -> None:
    if not s.store.user_exists(user_id):
        raise not_found(f"no user has id {user_id}: create one with POST /users")


@router.post("/users", response_model=UserOut, status_code=201, tags=["users"])
def create_user(s: State) -> UserOut:
    """A new user with no ratings; keep the id to rate and get recommendations."""
    return UserOut(id=s.store.create_user(), ratings=[])


@router.get("/users/{user_id}", response_model=UserOut, tags=["users"])
def get_user(s: State, user_id: UserIdPath) -> UserOut:
    _require_user(s, user_id)
    return _user_out(s, user_id)


@router.put("/users/{user_id}/ratings/{anime_id}", response_model=RatingOut, tags=["users"])
def put_rating(s: State, user_id: UserIdPath, anime_id: AnimeIdPath, body: RatingIn) -> RatingOut:
    """Rate an anime 1–10 (replaces an earlier rating)."""
    _require_user(s, user_id)
    card = s.summary(anime_id)
    stored, _ = s.store.set_rating(user_id, anime_id, body.rating)
    return RatingOut(
        anime_id=anime_id, name=card["name"], rating=stored.rating, updated_at=stored.updated_at
    )


@router.delete(
    "/users/{user_id}/ratings/{anime_id}",
    status_code=204,
    response_class=Response,
    tags=["users"],
)
def delete_rating(s: State, user_id: UserIdPath, anime_id: AnimeIdPath) -> Response:
    _require_user(s, user_id)
    if not s.store.delete_rating(user_id, anime_id):
        raise not_found(f"user {user_id} has not rated anime {anime_id}")
    return Response(status_code=204)


@router.get("/users/{user_id}/recommendations", response_model=RecommendResponse, tags=["users"])
def user_recommendations(
    s: State,
    user_id: UserIdPath,
    k: KQuery = 10,
    model: ModelQuery = None,
    explore: ExploreQuery = 0.0,
) -> Response:
    """Recommendations from the user's stored ratings (empty until they rate something)."""
    _require_user(s, user_id)
    rated = [r for r in s.store.ratings(user_id) if r.anime_id in s.pos_of]
    history = History.of([r.anime_id for r in rated], [r.rating for r in rated])
    name, items = s.recommend(history, k, model, explore)
    inputs = [
        InputItem(anime_id=r.anime_id, name=s.summary(r.anime_id)["name"], rating=r.rating)
        for r in rated
    ]
    return _json(RecommendResponse(model=name, k=k, explore=explore, input=inputs, items=items))


__all__ = ["get_state", "router"]
