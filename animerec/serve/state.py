"""What a request reads: the catalog, the title index, the descriptions, the fitted models and
the feedback store, loaded once at start-up (:meth:`ServeState.load`) so a request only scores.

Liked titles enter a history as rating 10, disliked ones as rating 1: the models read them the
way they read a MAL promoter and a MAL detractor, and both are excluded from the results.
"""

from __future__ import annotations

import importlib.util
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from fastapi import Request

from animerec.data.catalog import Catalog
from animerec.data.ratings import History, Ratings
from animerec.data.titles import TitleIndex
from animerec.errors import AnimerecError, UnknownTitleError
from animerec.recommend.base import Recommendation, Recommender
from animerec.recommend.dislikes import DISLIKE_STRENGTH, DislikeNeighbours
from animerec.recommend.evidence import Evidence
from animerec.recommend.filters import FilterError, Filters
from animerec.recommend.franchise_order import franchises_of
from animerec.recommend.pipeline import Fallback
from animerec.recommend.registry import RECOMMENDERS, check_model_names
from animerec.recommend.store import fitted
from animerec.serve.db import FeedbackStore
from animerec.serve.errors import ApiError, invalid, not_found
from animerec.serve.ranking import rank
from animerec.serve.schemas import MAX_ID, AnimeSummary, Match, RecommendedAnime
from animerec.text import describe
from animerec.workspace import Workspace

SAFE = Filters(include_adult=False)
"""The API's default filters: adult titles only on request (``include_adult``)."""

log = logging.getLogger("animerec.serve")

LIKED, DISLIKED = 10, 1
"""Ratings that a liked and a disliked title stand for (a MAL promoter and a detractor)."""
PREFERRED_DEFAULTS = ("adaptive", "hybrid", "ease")
"""The serving default: the first of these that is served (else the first model served)."""
DEFAULT_MODELS = ("adaptive", "hybrid", "ease", "itemknn", "popularity")
"""What ``animerec serve`` loads unless told otherwise (those the registry knows)."""
N_MATCHES = 5


def text(v: Any) -> str | None:
    """A catalog cell as stripped text, or None for missing / blank."""
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
        premiered, aired = text(rec.get("premiered")), text(rec.get("aired"))
        genres = text(rec.get("genres"))
        cards.append(
            {
                "anime_id": int(rec["anime_id"]),
                "name": str(rec["name"]),
                "english_name": text(rec.get("english_name")),
                "type": text(rec.get("type")),
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
    return model, fitted(workspace, model, embedder=embedder, log=log.info)


def available_models(names: Sequence[str] = DEFAULT_MODELS) -> list[str]:
    """Those of ``names`` that the recommender registry knows."""
    return [n for n in names if n in RECOMMENDERS]


def check_models(names: Sequence[str]) -> None:
    """Unknown model names fail before start-up, naming the known ones."""
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
    fallback: Fallback | None = None
    """Most-loved titles for a history no model can say anything about (as the CLI has)."""
    dislikes: DislikeNeighbours | None = None
    """The dislike step's neighbours (built only while the step is on: ``DISLIKE_STRENGTH``)."""
    evidence: Evidence | None = None
    """Raters per title: titles few fans rated come only labelled as new (as the CLI has)."""

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
        ratings = Ratings.read(workspace.ratings)
        state = cls(
            catalog=catalog,
            titles=TitleIndex(catalog),
            cards=anime_cards(catalog),
            descriptions=describe(catalog, description_variant),
            models=loaded,
            default_model=default_model,
            store=FeedbackStore.for_workspace(workspace, db_url),
            explore=importlib.util.find_spec("animerec.recommend.explore") is not None,
            fallback=Fallback.of(ratings, catalog),
            dislikes=DislikeNeighbours.of(ratings, catalog) if DISLIKE_STRENGTH > 0 else None,
            evidence=Evidence.of(ratings, catalog),
        )
        state.warm_up()
        return state

    def warm_up(self) -> None:
        """One request per model, so lazily built caches exist before the first real request."""
        first = History.of([int(self.catalog.anime_ids[0])])
        for rec in self.models.values():
            rec.recommend([first], 10)
        franchises_of(self.catalog)  # the franchise step's groups, built once
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
        self,
        history: History,
        k: int,
        model: str | None,
        explore: float,
        filters: Filters | None = None,
        franchise: bool = True,
    ) -> tuple[str, list[RecommendedAnime]]:
        """The named (or default) model's top ``k`` for ``history``, as response items.

        ``filters`` default to the API's: no adult titles."""
        name, rec = self.model(model)
        self.check_explore(explore)
        if len(history) == 0:
            return name, []
        try:
            recs = rank(
                rec, history, k, explore, filters or SAFE, self.fallback, franchise,
                dislikes=self.dislikes, evidence=self.evidence,
            )  # fmt: skip
        except FilterError as exc:
            raise invalid(f"filters.{exc.field}", exc.message) from None
        return name, self.recommended(recs)


async def get_state(request: Request) -> ServeState:
    """The app's start-up state (503 for a request outside the lifespan — never under uvicorn)."""
    s = getattr(request.app.state, "serve", None)
    if s is None:
        raise ApiError(503, "unavailable", "the server is still starting")
    return s


__all__ = [
    "DEFAULT_MODELS",
    "DISLIKED",
    "LIKED",
    "ServeState",
    "anime_cards",
    "available_models",
    "check_models",
    "get_state",
    "text",
]
