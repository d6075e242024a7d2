"""Request and response bodies of the REST API, with the bounds the API enforces (422 otherwise).

Request bodies are strict about JSON types: an integer field takes a JSON number with no
fraction (``5``, or ``5.0`` as JSON Schema's ``integer`` allows) and never ``"5"`` or ``true``; a
float field takes a finite JSON number, never ``false``; a string field only a string; unknown
fields are refused.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StringConstraints

from animerec.recommend.filters import Filters

MAX_K = 100
MAX_LIST = 500
MAX_ID = 2**31 - 1
MAX_TITLE = 200
MAX_SEARCH = 50


def _json_number(v: object) -> object:
    # Lax parsing would read "5" as 5 and true as 1; a JSON API takes numbers as numbers.
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise ValueError(f"must be a JSON number, not {type(v).__name__}")
    return v


JSON_NUMBER = BeforeValidator(_json_number)
"""Placed after the ``Field`` constraints (so they stay in the JSON schema): numbers only."""

AnimeId = Annotated[
    int, Field(ge=0, le=MAX_ID, description="MyAnimeList anime id (a JSON integer)"), JSON_NUMBER
]
Title = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TITLE),
    Field(description="a title (Name or English name), matched fuzzily"),
]
AnimeRef = AnimeId | Title
"""An anime given by MAL id (a JSON number) or by title (a JSON string, even one like "86")."""
RatingValue = Annotated[int, Field(ge=1, le=10, description="1 (worst) to 10 (best)"), JSON_NUMBER]
K = Annotated[int, Field(ge=1, le=MAX_K, description="how many recommendations"), JSON_NUMBER]
Explore = Annotated[
    float,
    Field(
        ge=0.0,
        le=1.0,
        allow_inf_nan=False,
        description="0 = exploit (best guesses) … 1 = explore (diverse); a finite JSON number",
    ),
    JSON_NUMBER,
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


class GenreCount(BaseModel):
    name: str
    count: int = Field(description="anime of the catalog with this genre")


class GenresResponse(BaseModel):
    """The catalog's genres, for the filters' ``genres`` / ``exclude_genres`` (GET /genres)."""

    genres: list[GenreCount]


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


Year = Annotated[int, Field(ge=1900, le=2100, description="a year"), JSON_NUMBER]
Genre = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
AnimeType = Literal["TV", "Movie", "OVA", "ONA", "Special", "Music"]
Season = Literal["Winter", "Spring", "Summer", "Fall"]


class FilterIn(_Strict):
    """What may be recommended, whatever the model (the ranking pipeline's uniform filters).
    Adult titles ("Rx - Hentai") only with ``include_adult``."""

    types: list[AnimeType] = Field(default_factory=list, max_length=6)
    year_min: Year | None = None
    year_max: Year | None = None
    seasons: list[Season] = Field(default_factory=list, max_length=4)
    genres: list[Genre] = Field(default_factory=list, max_length=50, description="any of these")
    exclude_genres: list[Genre] = Field(default_factory=list, max_length=50)
    min_episodes: Annotated[int, Field(ge=0, le=10_000), JSON_NUMBER] | None = None
    exclude: list[AnimeId] = Field(
        default_factory=list, max_length=MAX_LIST, description="anime ids never to recommend"
    )
    include_adult: StrictBool = False
    include_mild_nudity: StrictBool = True

    def to_filters(self) -> Filters:
        return Filters(
            exclude=tuple(self.exclude),
            types=tuple(self.types),
            year_min=self.year_min,
            year_max=self.year_max,
            seasons=tuple(self.seasons),
            genres=tuple(self.genres),
            exclude_genres=tuple(self.exclude_genres),
            min_episodes=self.min_episodes,
            include_adult=self.include_adult,
            include_mild_nudity=self.include_mild_nudity,
        )


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
    filters: FilterIn = Field(default_factory=FilterIn)
    franchise: StrictBool = Field(
        True,
        description="franchise-aware at explore 0: the first season before its sequels, one "
        "card per franchise, no recaps or music videos",
    )

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
    id: str = Field(description="the user's public id (random; the path of every user call)")
    ratings: list[RatingOut] = []


class NewUserIn(_Strict):
    """The body of ``POST /users``: an empty JSON object (sent as ``application/json``, which a
    cross-site form or ``text/plain`` post cannot fake without the browser asking first)."""


class NewUser(UserOut):
    token: str = Field(
        description="the bearer token for this user's calls: shown once, store it (only its "
        "hash is kept)"
    )


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
    error: str = Field(
        description="not_found | validation_error | bad_request | unauthorized | rate_limited "
        "| unsupported_media_type | payload_too_large | method_not_allowed | internal_error"
    )
    message: str
    fields: list[FieldError] = []
    matches: list[Match] = Field(default_factory=list, description="close matches, best first")
