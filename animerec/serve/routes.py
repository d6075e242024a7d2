"""The public endpoints (one :class:`~fastapi.APIRouter`): service, anime, recommend.

Each handler reads the start-up :class:`~animerec.serve.state.ServeState` (``app.state.serve``,
through :func:`~animerec.serve.state.get_state`) and answers JSON; errors are raised as
:class:`~animerec.serve.errors.ApiError` and rendered by :mod:`animerec.serve.errors`. The
users' own endpoints, behind a token, are in :mod:`animerec.serve.users`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from pydantic import StringConstraints, ValidationError

from animerec.data.content_rating import adult_mask
from animerec.data.ratings import History
from animerec.recommend.explore import genre_matrix
from animerec.recommend.filters import FilterError, Filters
from animerec.serve.errors import invalid
from animerec.serve.schemas import (
    MAX_ID,
    MAX_K,
    MAX_SEARCH,
    MAX_TITLE,
    AnimeDetail,
    AnimeType,
    FilterIn,
    GenreCount,
    GenresResponse,
    Health,
    InputItem,
    RecommendRequest,
    RecommendResponse,
    SearchHit,
    SearchResponse,
    Season,
)
from animerec.serve.state import DISLIKED, LIKED, ServeState, get_state, text

State = Annotated[ServeState, Depends(get_state)]
AnimeIdPath = Annotated[int, PathParam(ge=0, le=MAX_ID, description="MyAnimeList anime id")]
KQuery = Annotated[int, Query(ge=1, le=MAX_K, description="how many")]
ModelQuery = Annotated[str | None, Query(min_length=1, max_length=50, description="served model")]
ExploreQuery = Annotated[
    float, Query(ge=0.0, le=1.0, allow_inf_nan=False, description="0 exploit … 1 explore")
]


GenreQuery = Annotated[str, StringConstraints(min_length=1, max_length=50, pattern=r"^\s*\S")]
"""A genre name in the query: not empty, not only spaces (so the schema says what is refused)."""


def filter_query(
    types: Annotated[list[AnimeType] | None, Query(max_length=6)] = None,
    year_min: Annotated[int | None, Query(ge=1900, le=2100)] = None,
    year_max: Annotated[int | None, Query(ge=1900, le=2100)] = None,
    seasons: Annotated[list[Season] | None, Query(max_length=4)] = None,
    genres: Annotated[list[GenreQuery] | None, Query(max_length=50)] = None,
    exclude_genres: Annotated[list[GenreQuery] | None, Query(max_length=50)] = None,
    min_episodes: Annotated[int | None, Query(ge=0, le=10_000)] = None,
    include_adult: bool = False,
    include_mild_nudity: bool = True,
) -> Filters:
    """The uniform filters as query parameters (``?types=TV&types=Movie&year_min=2000``)."""
    try:
        return _filters(
            types=types or [],
            year_min=year_min,
            year_max=year_max,
            seasons=seasons or [],
            genres=genres or [],
            exclude_genres=exclude_genres or [],
            min_episodes=min_episodes,
            include_adult=include_adult,
            include_mild_nudity=include_mild_nudity,
        )
    except FilterError as exc:
        raise invalid(exc.field, str(exc)) from None
    except ValidationError as exc:  # say an empty genre name: a 422 naming it, never a 500
        errors = [{**e, "loc": ("query", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None


def _filters(**values: Any) -> Filters:
    return FilterIn(**values).to_filters()


FilterQuery = Annotated[Filters, Depends(filter_query)]


def json_response(body: Any) -> Response:
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
    include_adult: Annotated[
        bool, Query(description="also suggest adult (Rx - Hentai) titles; off by default")
    ] = False,
) -> Response:
    """Fuzzy title search over Name, English and Japanese name: exact, then prefix, then
    similar. Adult (Rx) titles only with ``include_adult=true``; no match is an empty list."""
    hits = s.titles.search(q, limit, include_adult=include_adult)
    return json_response(
        SearchResponse(
            query=q, items=[SearchHit(match=m.score, **s.summary(m.anime_id)) for m in hits]
        )
    )


@router.get("/genres", response_model=GenresResponse, tags=["anime"])
async def genres(
    s: State,
    include_adult: Annotated[
        bool, Query(description="also count adult (Rx - Hentai) titles; off by default")
    ] = False,
) -> GenresResponse:
    """The genre names the ``genres`` / ``exclude_genres`` filters accept, most common first
    (the page's suggestions); a genre only adult titles have is listed with ``include_adult``."""
    vocab, m = genre_matrix(s.catalog)
    rows = m if include_adult else m[~adult_mask(s.catalog)]
    counts = rows.sum(axis=0)
    order = sorted(range(len(vocab)), key=lambda i: (-int(counts[i]), vocab[i]))
    return GenresResponse(
        genres=[GenreCount(name=vocab[i], count=int(counts[i])) for i in order if counts[i]]
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
    s: State,
    anime_id: AnimeIdPath,
    filters: FilterQuery,
    model: ModelQuery = None,
    k: KQuery = 10,
) -> Response:
    """What the model recommends to someone who liked just this anime."""
    pos = s.position(anime_id)
    name, items = s.recommend(History.of([anime_id], [LIKED]), k, model, 0.0, filters)
    src = [InputItem(anime_id=anime_id, name=s.cards[pos]["name"], rating=LIKED)]
    return json_response(RecommendResponse(model=name, k=k, explore=0.0, input=src, items=items))


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
    try:
        filters = req.filters.to_filters()
    except FilterError as exc:
        raise invalid(f"filters.{exc.field}", str(exc)) from None
    name, items = s.recommend(history, req.k, req.model, req.explore, filters, req.franchise)
    inputs = [InputItem(anime_id=a, name=s.summary(a)["name"], rating=given[a][0]) for a in ids]
    return json_response(
        RecommendResponse(model=name, k=req.k, explore=req.explore, input=inputs, items=items)
    )


__all__ = [
    "AnimeIdPath",
    "ExploreQuery",
    "FilterQuery",
    "KQuery",
    "ModelQuery",
    "State",
    "json_response",
    "router",
]
