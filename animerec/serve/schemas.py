"""Request and response bodies of the REST API, with the bounds the API enforces (422 otherwise)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

MAX_K = 100
MAX_LIST = 500
MAX_ID = 2**31 - 1
MAX_TITLE = 200
MAX_SEARCH = 50


def _not_bool(v: object) -> object:
    # JSON true/false are not ids, though lax int parsing would take them as 1/0.
    if isinstance(v, bool):
        raise ValueError("an anime id must be an integer, not a boolean")
    return v


AnimeId = Annotated[
    int,
    Field(ge=0, le=MAX_ID, description="MyAnimeList anime id (a JSON integer)"),
    BeforeValidator(_not_bool),
]
Title = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TITLE),
    Field(description="a title (Name or English name), matched fuzzily"),
]
AnimeRef = AnimeId | Title
"""An anime given by MAL id (a JSON number) or by title (a JSON string, even one like "86")."""
RatingValue = Annotated[int, Field(ge=1, le=10, description="1 (worst) to 10 (best)")]
K = Annotated[int, Field(ge=1, le=MAX_K, description="how many recommendations")]
Explore = Annotated[
    float, Field(ge=0.0, le=1.0, description="0 = exploit (best guesses) … 1 = explore (diverse)")
]
ModelName = Annotated[str, StringConstraints(min_length=1, max_length=50)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- anime --------------------------------------------------------------------------------------
class AnimeSummary(BaseModel):
    anime_id: int
    name: str
    english_name: str | None = None
    type: str | None = None
    episodes: int | None = None
    season: str | None = Field(None, description='premiere season, e.g. "Spring 1998"')
    year: int | None = None
    genres: list[str] = []
    mal_score: float | None = Field(None, description="MyAnimeList's mean score")
    members: int | None = None


class AnimeDetail(AnimeSummary):
    japanese_name: str | None = None
    aired: str | None = None
    studios: str | None = None
    producers: str | None = None
    source: str | None = None
    duration: str | None = None
    age_rating: str | None = None
    synopsis: str | None = None
    description: str = Field(description="the generated description the text models read")


class SearchHit(AnimeSummary):
    match: float = Field(description="fuzzy match score, 0–100")


class SearchResponse(BaseModel):
    query: str
    items: list[SearchHit]


class RecommendedAnime(AnimeSummary):
    rank: int
    score: float = Field(description="the model's score (comparable within one response)")
    reason: str


class InputItem(BaseModel):
    anime_id: int
    name: str
    rating: int


class RecommendResponse(BaseModel):
    model: str
    k: int
    explore: float
    input: list[InputItem] = Field(description="the history the model saw, titles resolved")
    items: list[RecommendedAnime]


# --- recommend ----------------------------------------------------------------------------------
class RatedAnime(_Strict):
    anime: AnimeRef
    rating: RatingValue


class RecommendRequest(_Strict):
    """Liked titles count as rating 10 and disliked ones as 1 (a detractor on MAL's scale): the
    models weigh them the way they weigh the same ratings from MAL users, and neither comes back."""

    liked: list[AnimeRef] = Field(default_factory=list, max_length=MAX_LIST)
    disliked: list[AnimeRef] = Field(default_factory=list, max_length=MAX_LIST)
    history: list[RatedAnime] = Field(
        default_factory=list, max_length=MAX_LIST, description="rated anime (1–10)"
    )
    k: K = 10
    model: ModelName | None = Field(None, description="a served model; default: the server's")
    explore: Explore = 0.0

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"liked": ["Cowboy Bebop", 30], "disliked": [], "k": 10, "explore": 0.2}]
        },
    )


# --- users and feedback -------------------------------------------------------------------------
class RatingIn(_Strict):
    rating: RatingValue


class RatingOut(BaseModel):
    anime_id: int
    name: str
    rating: int
    updated_at: datetime


class UserOut(BaseModel):
    id: int
    ratings: list[RatingOut] = []


# --- health and errors --------------------------------------------------------------------------
class Health(BaseModel):
    status: str
    models: list[str]
    default_model: str
    anime: int
    explore: bool = Field(description="whether exploration re-ranking is available")
    database: str = Field(description="the database backend (sqlite, postgresql, …)")


class FieldError(BaseModel):
    field: str = Field(description='the offending field, e.g. "k" or "liked[2]"')
    message: str
    loc: list[str | int] = []


class Match(BaseModel):
    anime_id: int
    name: str


class ErrorBody(BaseModel):
    error: str = Field(description="not_found | validation_error | bad_request | internal_error")
    message: str
    fields: list[FieldError] = []
    matches: list[Match] = Field(default_factory=list, description="close matches, best first")
