"""The adaptive model: one fitted member per history-length regime, each history scored by its own.

Why: the best EASE-family settings move with how much a user said (issue 13). On the validation
users of the DEV training set (docs/experiments.md, "Few likes: the EASE family";
benchmarks/ease_study.py) one like wants a very smooth EASE (λ 100 000), three likes EASE with
item degree normalisation, five and ten likes L3AE (EASE pulled toward the text EASE), the 80%
hold-out a light CEASE. A single setting loses on every regime but one. This model fits one member
per regime and routes each history to the member of its regime, so a fan naming one title and a
MAL list of 200 each get the settings that won for their length.

A history's *length* is the number of its ratings above the dislike bound (dislikes say what to
push away, not how much the user told us): ``bounds = (1, 3, 7, 19)`` makes the regimes 0–1,
2–3, 4–7, 8–19 and ≥ 20 likes, matched to the study's 1, 3, 5 and 10 likes and the hold-out.
The default member settings are the study's fixed winners, not tuned here (``search_space``
is empty). The text side of every text member is one setting, ``embedder``: base MiniLM by
default, because the study that chose the members ran on base MiniLM (the fine-tuned adapter's
training users include those validation users, so choosing on it there would have been
leaked). ``adaptive-ft`` is the same regimes with the fine-tuned embedder (``auto``) as text
side and its text members' settings chosen by the same study rerun with an adapter that never saw
those validation users; registered apart, so one ``animerec evaluate`` run measures the two.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar, Self

import numpy as np

from animerec.data.catalog import Catalog
from animerec.data.ratings import History, Ratings
from animerec.errors import AnimerecError
from animerec.recommend.base import Recommender
from animerec.recommend.context import Context
from animerec.recommend.itemspace import DISLIKE_MAX
from animerec.recommend.models import SINGLE_MODELS, lookup

__all__ = [
    "DEFAULT_MEMBER_PARAMS",
    "FINETUNED_MEMBER_PARAMS",
    "AdaptiveFinetuned",
    "AdaptiveRecommender",
    "regime_of",
]

DEFAULT_MEMBERS = ("ease/like1", "ease/like3", "l3ae/like5", "l3ae/like10", "cease/holdout")
"""One member per regime, shortest histories first."""

DEFAULT_MEMBER_PARAMS: dict[str, dict[str, Any]] = {
    # the validation study's winners, exactly as its summary records them ("best", chosen over
    # all 192 validation users; docs/experiments.md "Few likes: the EASE family"): β = 0 for
    # the few-likes members (item degree normalisation and η carry the popularity), β .2 with
    # no prior for the hold-out; the text side is AdaptiveRecommender.Params.embedder
    "ease/like1": {"l2": 100000.0, "popularity_blend": 0.2, "popularity_discount": 0.0},
    "ease/like3": {
        "l2": 5000.0,
        "item_norm": 0.4,
        "popularity_blend": 0.2,
        "popularity_discount": 0.0,
    },
    "l3ae/like5": {
        "l2": 2000.0,
        "item_norm": 0.25,
        "side_weight": 200.0,
        "popularity_blend": 0.2,
        "popularity_discount": 0.0,
    },
    "l3ae/like10": {
        "l2": 2000.0,
        "item_norm": 0.25,
        "side_weight": 1000.0,
        "popularity_blend": 0.2,
        "popularity_discount": 0.0,
    },
    "cease/holdout": {
        "l2": 2000.0,
        "side_weight": 300.0,
        "popularity_discount": 0.2,
        "popularity_blend": 0.0,
    },
}

FINETUNED_MEMBER_PARAMS: dict[str, dict[str, Any]] = {
    **DEFAULT_MEMBER_PARAMS,
    # the same study rerun with the fine-tuned text side, an adapter trained on the training
    # users minus those validation users (`animerec finetune --users train-minus-validation`;
    # docs/experiments.md "The fine-tuned text side inside adaptive"): its text members' winners.
    # At 2-3 likes EASE stays: L3AE with that text side ties it out of sample (.417 vs .418).
    "l3ae/like5": {
        "l2": 5000.0,
        "item_norm": 0.4,
        "side_weight": 50.0,
        "popularity_blend": 0.0,
        "popularity_discount": 0.0,
    },
    "l3ae/like10": {
        "l2": 2000.0,
        "item_norm": 0.25,
        "side_weight": 1000.0,
        "popularity_blend": 0.0,
        "popularity_discount": 0.0,
    },
    "cease/holdout": {
        "l2": 2000.0,
        "side_weight": 300.0,
        "popularity_discount": 0.2,
        "popularity_blend": 0.2,
    },
}


def model_of(member: str) -> str:
    """The registered model of a member name (``ease/like1`` → ``ease``)."""
    return member.split("/", 1)[0]


def member_settings(params: Any, member: str) -> dict[str, Any]:
    """``member``'s parameters: its ``member_params``, with the adaptive model's ``embedder``
    as the text side when the member's model has one (one text side for every member)."""
    settings = dict(params.member_params.get(member, {}))
    if "embedder" in {f.name for f in fields(lookup(model_of(member), SINGLE_MODELS).Params)}:
        settings["embedder"] = params.embedder
    return settings


def regime_of(histories: Sequence[History], bounds: Sequence[int]) -> np.ndarray:
    """Each history's regime: how many of ``bounds`` its count of likes exceeds."""
    likes = np.array([int(np.sum(h.ratings > DISLIKE_MAX)) for h in histories], dtype=np.int64)
    return np.searchsorted(np.asarray(bounds, np.int64), likes, side="left")


class AdaptiveRecommender(Recommender):
    """Members fitted per history-length regime; each history scored by its regime's member."""

    name: ClassVar[str] = "adaptive"

    @dataclass
    class Params:
        members: tuple[str, ...] = DEFAULT_MEMBERS
        """``model/label`` per regime, shortest histories first (one more than ``bounds``)."""
        bounds: tuple[int, ...] = (1, 3, 7, 19)
        """Upper likes count of every regime but the last (increasing)."""
        member_params: dict[str, dict[str, Any]] = field(
            default_factory=lambda: {m: dict(p) for m, p in DEFAULT_MEMBER_PARAMS.items()}
        )
        """Parameters per member over its model's defaults (fixed: not tuned)."""
        embedder: str = "minilm"
        """Text side of every member whose model has one (over its ``member_params``)."""

    def __init__(self, params: Params | None = None, context: Context | None = None) -> None:
        self.params = params or self.Params()
        p = self.params
        p.members, p.bounds = tuple(p.members), tuple(int(b) for b in p.bounds)
        if len(p.members) != len(p.bounds) + 1:
            raise AnimerecError(
                f"adaptive: {len(p.members)} members for {len(p.bounds)} bounds; give one "
                "member more than bounds (the last takes every longer history)"
            )
        if any(b <= a for a, b in zip(p.bounds, p.bounds[1:], strict=False)) or (
            p.bounds and p.bounds[0] < 0
        ):
            raise AnimerecError(f"adaptive: bounds must increase from 0, got {list(p.bounds)}")
        if len(set(p.members)) != len(p.members):
            raise AnimerecError(f"adaptive: a member is listed twice: {', '.join(p.members)}")
        for m in p.members:
            lookup(model_of(m), SINGLE_MODELS)  # unknown models refused before any fit
        self.context = context or Context()
        self.members: dict[str, Recommender] = {}

    @classmethod
    def build(cls, params: Mapping[str, Any] | None = None, context: Context | None = None) -> Self:
        return cls(cls.Params(**dict(params or {})), context=context)

    @classmethod
    def members_of(cls, params: Mapping[str, Any]) -> dict[str, tuple[str, dict[str, Any], bool]]:
        """Each member's model and its fixed parameters (never tuned: the study chose them)."""
        p = cls.Params(**dict(params))
        return {m: (model_of(m), member_settings(p, m), False) for m in p.members}

    def input_identity(self) -> dict[str, Any]:
        return {m: self._make(m).input_identity() for m in self.params.members}

    def _make(self, member: str) -> Recommender:
        settings = member_settings(self.params, member)
        return lookup(model_of(member), SINGLE_MODELS).build(settings, self.context)

    # --- fitting and scoring ---------------------------------------------------------------------
    def fit(self, train: Ratings, catalog: Catalog) -> Self:
        pool = self.context.pool
        self.members = {}
        for m in self.params.members:
            model = self._make(m)
            self.members[m] = (
                model.fit(train, catalog) if pool is None else pool.fit(model, train, catalog)
            )
        self.catalog = catalog
        return self

    def member_for(self, history: History) -> Recommender:
        """The fitted member that scores ``history``."""
        self.fitted_catalog()
        regime = int(regime_of([history], self.params.bounds)[0])
        return self.members[self.params.members[regime]]

    def score(self, histories: Sequence[History]) -> np.ndarray:
        catalog = self.fitted_catalog()
        out = np.empty((len(histories), len(catalog)), np.float32)
        regimes = regime_of(histories, self.params.bounds)
        for r in np.unique(regimes):
            rows = np.flatnonzero(regimes == r)
            member = self.members[self.params.members[int(r)]]
            out[rows] = member.score([histories[i] for i in rows])
        return out

    def reasons(self, history: History, anime_ids: np.ndarray, scores: np.ndarray) -> list[str]:
        return self.member_for(history).reasons(history, anime_ids, scores)

    def item_vectors(self) -> np.ndarray | None:
        for m in reversed(self.params.members):  # the text members, if any
            v = self.members[m].item_vectors() if m in self.members else None
            if v is not None:
                return v
        return None

    # --- persistence ------------------------------------------------------------------------------
    def state(self) -> dict[str, np.ndarray]:
        meta = {m: asdict(self.members[m].params) for m in self.params.members}
        out: dict[str, np.ndarray] = {"member_params": np.array(json.dumps(meta, default=str))}
        for m in self.params.members:
            for key, value in self.members[m].state().items():
                out[f"member.{m}.{key}"] = value
        return out

    def set_state(self, arrays: dict[str, np.ndarray], catalog: Catalog) -> None:
        meta = json.loads(str(arrays["member_params"]))
        self.members = {}
        for m in self.params.members:
            prefix = f"member.{m}."
            sub = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
            member = lookup(model_of(m), SINGLE_MODELS).from_params(meta[m], self.context)
            member.set_state(sub, catalog)
            self.members[m] = member
        self.catalog = catalog


class AdaptiveFinetuned(AdaptiveRecommender):
    """The adaptive model with the fine-tuned embedder (``auto``) as every text member's side."""

    name: ClassVar[str] = "adaptive-ft"

    @dataclass
    class Params(AdaptiveRecommender.Params):
        member_params: dict[str, dict[str, Any]] = field(
            default_factory=lambda: {m: dict(p) for m, p in FINETUNED_MEMBER_PARAMS.items()}
        )
        """The text members' settings chosen on validation users with a fine-tuned text side."""
        embedder: str = "auto"
        """Text side of every member whose model has one: ``auto`` = ``anime-minilm`` if trained."""
