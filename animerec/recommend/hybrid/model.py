"""The hybrid model: members fitted, the learned fusion applied, reasons from the top feature."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, ClassVar, Self

import numpy as np

from animerec.data.catalog import Catalog
from animerec.data.ratings import History, Ratings
from animerec.errors import AnimerecError
from animerec.recommend.base import Recommender
from animerec.recommend.context import Context
from animerec.recommend.hybrid.fusion import (
    PRIORS,
    ItemPriors,
    seen_mask,
    standardise,
)
from animerec.recommend.hybrid.learned import (
    Fusion,
    fusion_key,
    learn_fusion,
    read_fusion,
    write_fusion,
)
from animerec.recommend.models import SINGLE_MODELS, lookup

CONTENT_PARAMS = ("embedder", "max_seq_length", "backend", "variant")
"""Hybrid parameters passed on to content members."""
DEFAULT_MEMBERS = ("ease", "content")
"""EASE and the content model. On held-out validation folds ALS and a second EASE (graded 8+)
added nothing measurable on top of them (the fusion learns weight ~0 or noise for them), while
ALS alone costs ~2 ms per user; add them with ``members``."""
DEFAULT_MEMBER_PARAMS: dict[str, dict[str, Any]] = {
    "ease/graded": {"min_rating": 8, "graded": True}
}
"""A second EASE on 8+ ratings weighted by how high they are: it ranks what users *love*."""
DEBIAS = (0.0, 0.25, 0.5)
COVERAGE_TOLERANCE = 0.005
NORMALISE_TOP = 100
"""Validation NDCG the fit may give up for weights that recommend more distinct anime."""
SCORE_BLOCK = 128
"""Histories scored at once (members and features are dense ``[block, catalog]`` arrays)."""
KEEP_TOP = 200
"""Best unseen anime per history whose feature parts :meth:`HybridRecommender.score` keeps, so
:meth:`~HybridRecommender.reasons` need not score again (exploration picks from the best 50)."""

__all__ = ["DEFAULT_MEMBERS", "HybridRecommender", "model_of"]


def model_of(member: str) -> str:
    """The registered model of a member name (``ease/graded`` → ``ease``)."""
    return member.split("/", 1)[0]


class _Recent(threading.local):
    """Per thread (the API may serve in threads): what :meth:`HybridRecommender.score` kept of
    each history's feature parts, by ``id(history)``, for :meth:`~HybridRecommender.reasons`."""

    def __init__(self) -> None:
        self.rows: dict[int, tuple] = {}


FEW_RATERS = 50
"""Below this many raters a prior's reason says the evidence is thin."""


class HybridRecommender(Recommender):
    """A learned weighted sum of member recommenders' standardised scores and item priors."""

    name: ClassVar[str] = "hybrid"

    @dataclass
    class Params:
        members: tuple[str, ...] = DEFAULT_MEMBERS
        """Registered recommenders to fuse; ``model/label`` names a second variant of a model
        whose parameters ``member_params[model/label]`` sets (``ease/graded``)."""
        priors: tuple[str, ...] = PRIORS
        """Item priors that may join the fusion (``quality``, ``popularity``)."""
        member_params: dict[str, dict[str, Any]] = field(
            default_factory=lambda: {k: dict(v) for k, v in DEFAULT_MEMBER_PARAMS.items()}
        )
        """Parameters per member over its defaults and the shared content settings below
        (:func:`animerec.recommend.registry.resolve` fills in the tuned rest)."""
        tune_members: bool = True
        """Members take tuned values for the parameters ``member_params`` leaves open (the
        evaluation's grid search on training users, cached in ``WS/tuning``; the model store
        reads that cache); False: their given parameters over the defaults."""
        debias: tuple[float, ...] = DEBIAS
        """Candidate exponents α: member scores are divided by (raters)^α before fusing, which
        lifts less popular anime; the fit keeps the α whose fusion validates best."""
        normalise_top: int = NORMALISE_TOP
        """Standardise each member's scores over the user's best N unseen anime (0: over all)."""
        coverage_tolerance: float = COVERAGE_TOLERANCE
        """Validation NDCG the fit may give up for fusion weights that recommend more distinct
        anime (catalog coverage)."""
        embedder: str = "minilm"
        """Embedder of content members. The packaged MiniLM, not the fine-tuned ``anime-minilm``
        the content recommender prefers: fine-tuning distils EASE's neighbourhoods into the text
        encoder, which makes content redundant beside EASE (DEV: hybrid .429 with it vs .435
        without, paired Δ −.006 [−.012, −.001]; docs/experiments.md §5). ``auto`` picks it anyway."""
        max_seq_length: int | None = None
        backend: str = "torch"
        """Backend of the content members' embedder (``torch``, ``onnx``, ``onnx-int8``)."""
        variant: str = "clean"
        validation_seed: int = 43
        """Seed of the validation split the weights are learned on (training users only)."""
        min_validation_ratings: int = 10
        """Ratings a validation user needs (lower only for toy data, as the contract tests do)."""
        k: int = 10
        """List length whose NDCG the weights maximise."""

    def __init__(
        self,
        params: Params | None = None,
        *,
        context: Context | None = None,
        factories: Mapping[str, Callable[[], Recommender]] | None = None,
    ) -> None:
        """``context`` gives the workspace (the fusion cache, the content members' embeddings)
        and the run's fit pool; ``factories`` build members that are not registered models
        (tests: such a hybrid is never cached)."""
        self.params = params or self.Params()
        p = self.params
        p.members = tuple(p.members)
        p.priors = tuple(p.priors)
        p.debias = tuple(float(a) for a in p.debias) or (0.0,)
        if not p.members:
            raise AnimerecError("hybrid: give at least one member")
        if len(set(p.members)) != len(p.members):
            raise AnimerecError(f"hybrid: a member is listed twice: {', '.join(p.members)}")
        if any(model_of(m) == "hybrid" for m in p.members):
            raise AnimerecError("hybrid: a hybrid cannot be its own member")
        bad = [x for x in p.priors if x not in PRIORS]
        if bad:
            raise AnimerecError(
                f"hybrid: unknown prior {bad[0]!r}; choose from {', '.join(PRIORS)}"
            )
        if any(not 0 <= a <= 2 for a in p.debias):
            raise AnimerecError(f"hybrid: debias exponents must be in [0, 2], got {p.debias}")
        self.context = context or Context()
        self._factories = dict(factories or {})
        self.members: dict[str, Recommender] = {}
        self.member_settings: dict[str, dict[str, Any]] = {}
        self.weights: np.ndarray | None = None
        self.alpha = 0.0
        self.feature_names: list[str] = []
        self.priors: ItemPriors | None = None
        self.validation: dict[str, Any] = {}
        self._recent = _Recent()
        self._prior_rows: dict[str, np.ndarray] = {}

    @classmethod
    def build(cls, params: Mapping[str, Any] | None = None, context: Context | None = None) -> Self:
        return cls(cls.Params(**dict(params or {})), context=context)

    # --- members -------------------------------------------------------------------------------
    @classmethod
    def members_of(cls, params: Mapping[str, Any]) -> dict[str, tuple[str, dict[str, Any], bool]]:
        """Each member's model, fixed parameters and whether tuning fills in the rest
        (``tune_members``). Fixed: the hybrid's content settings that differ from the member's
        defaults (so a member evaluated alone with the same settings shares its cached tuning),
        then ``member_params[member]``."""
        p = asdict(cls.Params(**dict(params)))
        out = {}
        for member in p["members"]:
            model = model_of(member)
            defaults = asdict(lookup(model, SINGLE_MODELS).Params())
            shared = {
                key: p[key]
                for key in CONTENT_PARAMS
                if key in defaults and p[key] is not None and p[key] != defaults[key]
            }
            fixed = {**shared, **p["member_params"].get(member, {})}
            out[member] = (model, fixed, p["tune_members"])
        return out

    def _make(self, member: str) -> Recommender:
        if member in self._factories:
            return self._factories[member]()
        model = model_of(member)
        return lookup(model, SINGLE_MODELS).build(self.member_settings[member], self.context)

    # --- features ------------------------------------------------------------------------------
    def _feature(
        self,
        i: int,
        histories: Sequence[History],
        shape: tuple[int, int],
        seen: np.ndarray | None = None,
    ) -> np.ndarray:
        """Feature ``i`` for ``histories``: a member's debiased, standardised scores or a prior."""
        name = self.feature_names[i]
        if i >= len(self.params.members):
            if name not in self._prior_rows:
                self._prior_rows[name] = self.priors.feature(name)
            return np.broadcast_to(self._prior_rows[name], shape)
        s = np.asarray(self.members[name].score(histories), dtype=np.float32)
        if self.alpha:
            key = f"debias {self.alpha!r}"  # raters^α over the catalog: computed once
            if key not in self._prior_rows:
                self._prior_rows[key] = self.priors.debias(self.alpha)
            s = s / self._prior_rows[key]
        head = self.params.normalise_top
        if head and seen is None:
            seen = seen_mask(histories, self.catalog)
        return standardise(s, seen, head)

    # --- fitting --------------------------------------------------------------------------------
    def fit(self, train: Ratings, catalog: Catalog) -> Self:
        p = self.params
        self.catalog = catalog
        registered = replace(p, members=tuple(m for m in p.members if m not in self._factories))
        self.member_settings = {
            m: fixed for m, (_, fixed, _) in self.members_of(asdict(registered)).items()
        }
        self.feature_names = [*p.members, *p.priors]
        self.members = {m: self._fit_member(m, train, catalog) for m in p.members}
        self.priors = ItemPriors.of(train, catalog)
        self._prior_rows = {}
        # cached with a workspace, unless members come from factories (nothing to key them on)
        ws = self.context.workspace
        key = None if ws is None or self._factories else fusion_key(p, self.members, train, catalog)
        hit = None
        if key is not None and not self.context.retune:
            hit = read_fusion(ws, key[0], len(self.feature_names))
        fusion = hit if hit is not None else self._learn(train, catalog)
        if hit is None and key is not None:
            write_fusion(ws, *key, self.feature_names, fusion)
        self.weights, self.alpha, self.validation = fusion.weights, fusion.alpha, fusion.validation
        return self

    def _fit_member(self, member: str, train: Ratings, catalog: Catalog) -> Recommender:
        """Member ``member`` fitted on ``train``: taken from the context's fit pool when the
        same model with the same parameters and inputs was fitted on the same ratings in this
        run (the evaluation fits EASE and content for their own rows first), else fitted here."""
        model = self._make(member)
        pool = self.context.pool
        if pool is None or member in self._factories:
            return model.fit(train, catalog)
        return pool.fit(model, train, catalog)

    def _learn(self, train: Ratings, catalog: Catalog) -> Fusion:
        """α and the fusion weights from members fitted on the training users minus validation
        users, scored on the validation users' histories (see the module docstring)."""
        return learn_fusion(self.params, self.feature_names, self._make, train, catalog)

    # --- scoring --------------------------------------------------------------------------------
    def score(self, histories: Sequence[History]) -> np.ndarray:
        catalog = self.fitted_catalog()
        # Each history's per-feature parts on its best anime are kept (per thread: the API may
        # serve in threads), so reasons() explains a recommendation without scoring again.
        self._recent.rows = {}
        if len(histories) == 0:
            return np.zeros((0, len(catalog)), np.float32)
        blocks = [
            self._score_block(histories[s : s + SCORE_BLOCK])
            for s in range(0, len(histories), SCORE_BLOCK)
        ]
        return blocks[0] if len(blocks) == 1 else np.concatenate(blocks)

    def _score_block(self, histories: Sequence[History]) -> np.ndarray:
        catalog = self.catalog
        shape = (len(histories), len(catalog))
        fused = np.zeros(shape, np.float32)
        used = np.flatnonzero(self.weights)
        seen = seen_mask(histories, catalog)
        parts = np.empty((len(used), *shape), np.float32)  # weighted features, [f, n, catalog]
        for j, i in enumerate(used):
            w = self.weights[i]
            if i >= len(self.params.members):  # a prior: the same weighted row for everyone
                key = f"{self.feature_names[i]} × {float(w)!r}"
                if key not in self._prior_rows:
                    self._prior_rows[key] = w * self._feature(int(i), histories[:1], (1, shape[1]))
                parts[j] = self._prior_rows[key]
            else:
                np.multiply(self._feature(int(i), histories, shape, seen), w, out=parts[j])
            fused += parts[j]
        m = min(KEEP_TOP, len(catalog))
        if len(histories) == 1 or m == len(catalog):  # one request: keep every anime
            top = [None] * len(histories)
            kept = parts
        else:
            ranked = np.where(seen, -np.inf, fused)
            top = np.argpartition(-ranked, m - 1, axis=1)[:, :m]
            kept = np.take_along_axis(parts, top[None], axis=2)  # [f, n, KEEP_TOP]
        rows = self._recent.rows
        for r, h in enumerate(histories):
            rows[id(h)] = (h, top[r], used, kept[:, r])
        return fused

    def _contributions(self, history: History, positions: np.ndarray) -> np.ndarray:
        """``[features, len(positions)]`` weighted feature values (−inf for unused features),
        from what :meth:`score` kept for this very history when it covers ``positions``."""
        out = np.full((len(self.feature_names), len(positions)), -np.inf, np.float32)
        hit = self._recent.rows.get(id(history))
        if hit is not None and hit[0] is history:
            _, top, used, kept = hit
            if top is None:  # every anime was kept
                out[used] = kept[:, positions]
                return out
            order = np.argsort(top)
            at = np.searchsorted(top[order], positions)
            at = np.minimum(at, len(top) - 1)
            if (top[order][at] == positions).all():
                out[used] = kept[:, order[at]]
                return out
        shape = (1, len(self.catalog))
        seen = seen_mask([history], self.catalog)
        for i in np.flatnonzero(self.weights):
            out[i] = self.weights[i] * self._feature(int(i), [history], shape, seen)[0, positions]
        return out

    def reasons(self, history: History, anime_ids: np.ndarray, scores: np.ndarray) -> list[str]:
        catalog = self.fitted_catalog()
        pos = np.maximum(catalog.positions(anime_ids), 0)
        contrib = self._contributions(history, pos)
        top = np.argmax(contrib, axis=0)
        out = [""] * len(anime_ids)
        n_members = len(self.params.members)
        for f in np.unique(top):
            js = np.flatnonzero(top == f)
            name = self.feature_names[f]
            if f < n_members:
                why = self.members[name].reasons(history, anime_ids[js], scores[js])
            else:
                why = [self._prior_reason(name, int(pos[j])) for j in js]
            for j, w in zip(js, why, strict=True):
                out[j] = w
        return out

    def _prior_reason(self, name: str, position: int) -> str:
        # In words, and honest about thin evidence (a share of 19 raters is not a verdict).
        raters = int(self.priors.raters[position])
        if raters < FEW_RATERS:
            return "few fans have rated it yet"
        if name == "quality":
            return "fans who watched it rate it highly"
        return "popular with fans"

    def item_vectors(self) -> np.ndarray | None:
        for m in self.members.values():
            v = m.item_vectors()
            if v is not None:
                return v
        return None

    # --- persistence ----------------------------------------------------------------------------
    def state(self) -> dict[str, np.ndarray]:
        meta = {
            "member_settings": self.member_settings,
            "feature_names": self.feature_names,
            "validation": self.validation,
            "alpha": self.alpha,
            "member_params": {m: asdict(self.members[m].params) for m in self.params.members},
        }
        out: dict[str, np.ndarray] = {
            "meta": np.array(json.dumps(meta, default=str)),
            "weights": self.weights,
            "raters": self.priors.raters,
            "promoters": self.priors.promoters,
        }
        for m in self.params.members:
            for key, value in self.members[m].state().items():
                out[f"member.{m}.{key}"] = value
        return out

    def set_state(self, arrays: dict[str, np.ndarray], catalog: Catalog) -> None:
        meta = json.loads(str(arrays["meta"]))
        self.member_settings = meta["member_settings"]
        self.feature_names = list(meta["feature_names"])
        self.validation = meta.get("validation", {})
        self.alpha = float(meta.get("alpha", 0.0))
        self.weights = arrays["weights"].astype(np.float32)
        self.priors = ItemPriors(arrays["raters"], arrays["promoters"])
        self._prior_rows = {}
        self.members = {}
        for m in self.params.members:
            prefix = f"member.{m}."
            sub = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
            model = lookup(model_of(m), SINGLE_MODELS)
            member = model.from_params(meta["member_params"][m], self.context)
            member.set_state(sub, catalog)
            self.members[m] = member
        self.catalog = catalog
