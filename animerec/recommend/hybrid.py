"""The hybrid: collaborative and content scores fused with weights learned on validation users.

Each member (by default EASE and the content model; any registered recommender, ALS included,
and ``model/label`` variants such as a second EASE) scores the whole catalog. A member's scores
may first be divided by each anime's number of training raters to the power α (popularity
debiasing), then each user's scores are standardised per member — z-scores whose mean and spread
come from the user's 100 best unseen anime, so a member's scale does not decide its say and what
counts is how it separates its top candidates. Two item priors from the training ratings may
join: ``quality`` (the smoothed share of an anime's raters who rated it 9+) and ``popularity``
(log raters). The fused score is a weighted sum.

α and the weights are *learned*, never hand-set: the members are fitted on the training users
minus a validation set carved out of them (:func:`~animerec.evaluate.split.validation_split`,
training users only), and for each candidate α coordinate ascent over a grid maximises the
validation users' NDCG@10. Among the weightings within ``coverage_tolerance`` of the best NDCG
the one recommending the most distinct anime is kept (a tie-break toward catalog coverage).
Then the members are refitted on all training users; α and the weights are saved with the model.

A recommendation's reason comes from the feature that added most to its score: the member's own
reason ("because you liked Monster (0.81)") or the prior's ("84% of its 120 raters rated it 9+").
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np

from animerec.data.catalog import Catalog
from animerec.data.ratings import History, Ratings, histories_from_ratings
from animerec.errors import AnimerecError
from animerec.recommend.base import Recommender, top_k
from animerec.workspace import Workspace, read_json, write_json

PRIORS = ("quality", "popularity")
QUALITY_PRIOR_WEIGHT = 10.0
"""Pseudo-raters pulling an anime's 9+ share toward the catalog-wide share (few raters → prior)."""
WEIGHT_GRID = (-1.0, -0.5, -0.25, -0.1, 0.0, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
"""Values coordinate ascent tries for each weight (the first member's weight stays 1)."""
ROUNDS = 3
"""Coordinate-ascent sweeps over the weights."""
CONTENT_PARAMS = ("embedder", "max_seq_length", "backend", "workspace", "variant")
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
FUSION_CACHE = "hybrid-fusion"
"""``WS/tuning/hybrid-fusion.json``: learned fusions (α, weights, validation figures) by key, so
fitting again on the same data with the same settings skips the validation fits."""
FUSION_VERSION = 1
"""Part of the fusion cache key: raise it when the way weights are learned changes."""
KEEP_TOP = 200
"""Best unseen anime per history whose feature parts :meth:`HybridRecommender.score` keeps, so
:meth:`~HybridRecommender.reasons` need not score again (exploration picks from the best 50)."""


def model_of(member: str) -> str:
    """The registered model of a member name (``ease/graded`` → ``ease``)."""
    return member.split("/", 1)[0]


def standardise(scores: np.ndarray, seen: np.ndarray | None = None, head: int = 0) -> np.ndarray:
    """Per-row z-scores. The mean and spread come from the row's ``head`` best finite entries
    that are not ``seen`` (all finite entries when ``head`` is 0): what matters in fusion is
    how a member separates its top candidates, not how the long tail of the catalog is spread.
    Entries a member cannot score get the row's lowest z-score (the member says nothing for
    them); rows with no spread become zeros."""
    s = np.asarray(scores, dtype=np.float32)
    fin = np.isfinite(s)
    all_finite = bool(fin.all())
    if not all_finite and np.isnan(s).any():
        s = np.where(np.isnan(s), -np.inf, s)
    if head > 0:
        pool = s if seen is None else np.where(seen, -np.inf, s)
        h = min(head, s.shape[1])
        # Select from the low end of the negated scores: selecting the top end of rows where
        # most entries are −inf (a member that scores a quarter of the catalog) hits numpy's
        # slow path for runs of equal values (0.4 ms a row instead of 0.02 ms). Sorted, so the
        # sums below do not depend on the order partition leaves.
        best = np.partition(-pool, h - 1, axis=1)[:, :h]
        best.sort(axis=1)
        best = -best[:, ::-1]
        ok = np.isfinite(best)
        if ok.all():
            mean = best.mean(axis=1, keepdims=True)
            std = best.std(axis=1, keepdims=True)
        else:
            n = np.maximum(ok.sum(axis=1, keepdims=True), 1)
            b = np.where(ok, best, 0.0)
            mean = b.sum(axis=1, keepdims=True) / n
            std = np.sqrt((np.where(ok, b - mean, 0.0) ** 2).sum(axis=1, keepdims=True) / n)
    else:
        x = np.where(fin, s, 0.0)
        n = np.maximum(fin.sum(axis=1, keepdims=True), 1)
        mean = x.sum(axis=1, keepdims=True) / n
        std = np.sqrt((np.where(fin, x - mean, 0.0) ** 2).sum(axis=1, keepdims=True) / n)
    flat = std <= 0
    mean = mean.astype(np.float32)
    std = np.where(flat, 1, std).astype(np.float32)
    z = (s - mean) / std
    if not all_finite:  # unscorable (−inf) entries: the row's lowest z-score
        low = np.where(fin, s, np.inf).min(axis=1, keepdims=True)
        low = np.where(np.isfinite(low), (low - mean) / std, 0.0).astype(np.float32)
        np.maximum(z, low, out=z)  # only the −inf entries are below the lowest finite one
    if flat.any():
        z[flat[:, 0]] = 0.0
    return z


def seen_mask(histories: Sequence[History], catalog: Catalog) -> np.ndarray:
    """``bool [len(histories), len(catalog)]``: True where a history holds the anime."""
    out = np.zeros((len(histories), len(catalog)), bool)
    for i, h in enumerate(histories):
        pos = catalog.positions(h.anime_ids)
        out[i, pos[pos >= 0]] = True
    return out


@dataclass(frozen=True)
class ItemPriors:
    """Per-catalog-item statistics of the training ratings (user-independent features)."""

    raters: np.ndarray
    promoters: np.ndarray

    @classmethod
    def of(cls, train: Ratings, catalog: Catalog) -> ItemPriors:
        pos = catalog.positions(train.anime_id)
        ok = pos >= 0
        raters = np.bincount(pos[ok], minlength=len(catalog))
        promoters = np.bincount(pos[ok & (train.rating >= 9)], minlength=len(catalog))
        return cls(raters.astype(np.int64), promoters.astype(np.int64))

    def quality(self) -> np.ndarray:
        """Smoothed share of raters who rated the anime 9+."""
        base = self.promoters.sum() / max(self.raters.sum(), 1)
        a = QUALITY_PRIOR_WEIGHT
        return ((self.promoters + a * base) / (self.raters + a)).astype(np.float32)

    def debias(self, alpha: float) -> np.ndarray:
        """``raters^α`` (at least 1): the divisor that lifts less popular anime's scores."""
        return np.power(np.maximum(self.raters, 1), alpha).astype(np.float32)

    def popularity(self) -> np.ndarray:
        return np.log1p(self.raters).astype(np.float32)

    def feature(self, name: str) -> np.ndarray:
        """The prior ``name`` standardised over the anime rated at least once."""
        v = self.quality() if name == "quality" else self.popularity()
        rated = self.raters > 0
        ref = v[rated] if rated.any() else v
        std = float(ref.std()) or 1.0
        return ((v - float(ref.mean())) / std).astype(np.float32)


def ranking_quality(
    fused: np.ndarray, relevant: np.ndarray, n_relevant: np.ndarray, k: int
) -> tuple[float, float]:
    """(mean binary NDCG@k over rows with ≥ 1 relevant item — the evaluation's definition —,
    share of distinct items among all recommended slots: the batch's catalog coverage)."""
    top = top_k(fused, k)
    finite = np.isfinite(np.take_along_axis(fused, top, axis=1))
    rel = np.take_along_axis(relevant, top, axis=1) & finite
    disc = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = rel @ disc[: top.shape[1]]
    idcg = np.concatenate([[0.0], np.cumsum(disc)])[np.minimum(n_relevant, k)]
    counted = n_relevant > 0
    ndcg = float(np.mean(dcg[counted] / idcg[counted])) if counted.any() else float("nan")
    distinct = len(np.unique(top[finite])) / max(int(finite.sum()), 1)
    return ndcg, distinct


def ndcg_at_k(fused: np.ndarray, relevant: np.ndarray, n_relevant: np.ndarray, k: int) -> float:
    """Mean binary NDCG@k over rows with ≥ 1 relevant item (same definition as the evaluation)."""
    return ranking_quality(fused, relevant, n_relevant, k)[0]


def learn_weights(
    features: Sequence[np.ndarray],
    relevant: np.ndarray,
    seen: np.ndarray,
    k: int = 10,
    *,
    grid: Sequence[float] = WEIGHT_GRID,
    rounds: int = ROUNDS,
) -> tuple[np.ndarray, float, list[dict[str, Any]]]:
    """Weights of ``features`` (each ``[users, items]``) maximising NDCG@k by coordinate ascent.

    Starts from the best single feature at weight 1 (that one's weight stays fixed: only ratios
    matter); every sweep tries each value of ``grid`` for every other weight and keeps any strict
    improvement. Returns (weights, validation NDCG, the search trace: every point tried with its
    NDCG and distinct-item share).
    """
    n_rel = relevant.sum(axis=1)
    base = np.where(seen, -np.inf, 0.0).astype(np.float32)
    trace: list[dict[str, Any]] = []

    def objective(w: np.ndarray) -> float:
        fused = base.copy()
        for wi, f in zip(w, features, strict=True):
            if wi != 0:
                fused += np.float32(wi) * f
        ndcg, distinct = ranking_quality(fused, relevant, n_rel, k)
        trace.append({"weights": w.tolist(), "ndcg": ndcg, "distinct": distinct})
        return ndcg

    singles = []
    for i in range(len(features)):
        w = np.zeros(len(features))
        w[i] = 1.0
        singles.append(objective(w))
    anchor = int(np.nanargmax(singles))
    w = np.zeros(len(features))
    w[anchor] = 1.0
    best = singles[anchor]
    for _ in range(rounds):
        improved = False
        for i in range(len(features)):
            if i == anchor:
                continue
            for value in grid:
                if value == w[i]:
                    continue
                cand = w.copy()
                cand[i] = value
                score = objective(cand)
                if score > best + 1e-9:
                    best, w, improved = score, cand, True
        if not improved:
            break
    return w, best, trace


def pick(trace: Sequence[Mapping[str, Any]], tolerance: float) -> Mapping[str, Any]:
    """The point of a search trace to keep: the highest NDCG, unless another within
    ``tolerance`` of it recommends more distinct anime (then the most distinct of those)."""
    best = max(t["ndcg"] for t in trace)
    near = [t for t in trace if t["ndcg"] >= best - tolerance]
    return max(near, key=lambda t: (t["distinct"], t["ndcg"]))


class FitPool:
    """Fitted recommenders shared within one run: a model with the same name and parameters,
    fitted on the very same ratings and catalog objects, is fitted once.

    The evaluation fits EASE and the content model for their own rows, then the hybrid fits the
    same two as members on the same training users; with a pool it takes them instead (each fit
    is deterministic, so the result is the same, at none of the cost)."""

    def __init__(self) -> None:
        self._fits: list[tuple[Ratings, Catalog, str, Recommender]] = []

    @staticmethod
    def key(model: Recommender) -> str | None:
        """What identifies a fit besides its data (None: never shared — injected vectors)."""
        if getattr(model, "_given_vectors", None) is not None:
            return None
        params = getattr(model, "params", None)
        if params is None or not is_dataclass(params):
            return None
        fields = asdict(params)
        where = fields.pop("workspace", None)  # as the model resolves it: its parameter first
        ws = getattr(model, "workspace", None)
        if where is None and isinstance(ws, Workspace):
            where = str(ws.root)
        return json.dumps(
            {"model": model.name, "params": fields, "workspace": where},
            sort_keys=True,
            default=str,
        )

    def get(self, model: Recommender, train: Ratings, catalog: Catalog) -> Recommender | None:
        key = self.key(model)
        if key is None:
            return None
        for t, c, k, fitted in self._fits:
            if t is train and c is catalog and k == key:
                return fitted
        return None

    def add(self, model: Recommender, train: Ratings, catalog: Catalog) -> None:
        """Remember ``model``, already fitted on ``train`` and ``catalog``."""
        key = self.key(model)
        if key is not None and self.get(model, train, catalog) is None:
            self._fits.append((train, catalog, key, model))

    def fit(self, model: Recommender, train: Ratings, catalog: Catalog) -> Recommender:
        """The pooled fit equal to ``model`` fitted on ``train``, or ``model`` fitted now."""
        hit = self.get(model, train, catalog)
        if hit is not None:
            return hit
        model.fit(train, catalog)
        self.add(model, train, catalog)
        return model


class HybridRecommender(Recommender):
    """A learned weighted sum of member recommenders' standardised scores and item priors."""

    name: ClassVar[str] = "hybrid"
    fit_pool: FitPool | None = None
    """Fitted models shared within one evaluation run (the evaluation runner sets it)."""
    retune: bool = False
    """Learn the fusion again even when ``WS/tuning`` holds it for this data and settings."""

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
        """Fixed parameters per member; the rest come from tuning (or defaults)."""
        tune_members: bool = True
        """Grid-search members' parameters on the validation users (cached in ``WS/tuning``)."""
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
        workspace: str | None = None
        validation_seed: int = 43
        """Seed of the validation split the weights are learned on (training users only)."""
        k: int = 10
        """List length whose NDCG the weights maximise."""

    def __init__(
        self,
        params: Params | None = None,
        *,
        workspace: Workspace | None = None,
        vectors: np.ndarray | None = None,
        factories: Mapping[str, Callable[[], Recommender]] | None = None,
    ) -> None:
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
        self.workspace = workspace
        self._vectors = vectors
        self._factories = dict(factories or {})
        self.members: dict[str, Recommender] = {}
        self.member_settings: dict[str, dict[str, Any]] = {}
        self.weights: np.ndarray | None = None
        self.alpha = 0.0
        self.feature_names: list[str] = []
        self.priors: ItemPriors | None = None
        self.validation: dict[str, Any] = {}
        self._recent = threading.local()
        self._prior_rows: dict[str, np.ndarray] = {}

    # --- members -------------------------------------------------------------------------------
    def resolve_workspace(self) -> Workspace | None:
        if self.params.workspace is not None:
            return Workspace.open(self.params.workspace)
        return self.workspace

    def _shared(self, cls: type[Recommender]) -> dict[str, Any]:
        """Hybrid-level settings a member takes (the embedder and workspace for content)."""
        params_cls = getattr(cls, "Params", None)
        allowed = set(getattr(params_cls, "__dataclass_fields__", {}))
        shared = {key: getattr(self.params, key) for key in CONTENT_PARAMS if key in allowed}
        if "workspace" in shared:
            ws = self.resolve_workspace()
            shared["workspace"] = str(ws.root) if ws is not None else None
        # Only what differs from the member's defaults: the same fixed settings as when the
        # member is evaluated alone, so both share one cached tuning.
        defaults = params_cls() if allowed else None
        return {
            k: v
            for k, v in shared.items()
            if v is not None and (k == "workspace" or v != getattr(defaults, k))
        }

    def _settings(self, train: Ratings, catalog: Catalog) -> dict[str, dict[str, Any]]:
        """Each member's parameters: shared settings and ``member_params``, then tuning of the
        rest of the model's search space (cached per member in ``WS/tuning``)."""
        out: dict[str, dict[str, Any]] = {}
        for member in self.params.members:
            if member in self._factories:
                out[member] = {}
                continue
            from animerec.recommend.registry import RECOMMENDERS

            model = model_of(member)
            if model not in RECOMMENDERS:
                raise AnimerecError(
                    f"hybrid: unknown member {member!r}; known: {', '.join(sorted(RECOMMENDERS))}"
                )
            cls = RECOMMENDERS[model]
            fixed = {**self._shared(cls), **self.params.member_params.get(member, {})}
            space = dict(getattr(cls, "search_space", {}) or {})
            space = {key: v for key, v in space.items() if key not in fixed}
            tuned: dict[str, Any] = {}
            if self.params.tune_members and space:
                from animerec.evaluate.tune import tune
                from animerec.recommend.registry import make_recommender

                ws = self.resolve_workspace()
                tuned = tune(
                    member.replace("/", "-"),
                    lambda _m=model, **kw: self._attach(make_recommender(_m, **kw)),
                    space,
                    train,
                    catalog,
                    k=self.params.k,
                    fixed=fixed,
                    cache_dir=ws.sub("tuning") if ws is not None else None,
                ).best
            out[member] = {**fixed, **tuned}
        return out

    def _attach(self, model: Recommender) -> Recommender:
        if self._vectors is not None and getattr(model, "name", None) == "content":
            model._given_vectors = self._vectors  # noqa: SLF001 - injected vectors (tests)
        ws = self.resolve_workspace()
        if ws is not None and hasattr(model, "workspace") and model.workspace is None:
            model.workspace = ws
        return model

    def _make(self, member: str) -> Recommender:
        if member in self._factories:
            return self._factories[member]()
        from animerec.recommend.registry import make_recommender

        return self._attach(make_recommender(model_of(member), **self.member_settings[member]))

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
        self.member_settings = self._settings(train, catalog)
        self.feature_names = [*p.members, *p.priors]
        self.members = {m: self._fit_member(m, train, catalog) for m in p.members}
        self.priors = ItemPriors.of(train, catalog)
        self._prior_rows = {}
        key = self._fusion_key(train, catalog)
        hit = None if key is None or self.retune else self._read_fusion(key[0])
        if hit is not None:
            self.weights = np.asarray(hit["weights"], dtype=np.float32)
            self.alpha = float(hit["alpha"])
            self.validation = dict(hit["validation"])
        else:
            self._learn(train, catalog)
            if key is not None:
                self._write_fusion(*key)
        return self

    def _fit_member(self, member: str, train: Ratings, catalog: Catalog) -> Recommender:
        """Member ``member`` fitted on ``train``: taken from :attr:`fit_pool` when the same model
        with the same parameters was fitted on the same ratings in this run (the evaluation
        fits EASE and content for their own rows first), else fitted here."""
        model = self._make(member)
        if self.fit_pool is None or member in self._factories:
            return model.fit(train, catalog)
        return self.fit_pool.fit(model, train, catalog)

    def _learn(self, train: Ratings, catalog: Catalog) -> None:
        """α and the fusion weights from members fitted on the training users minus validation
        users, scored on the validation users' histories (see the module docstring)."""
        from animerec.evaluate.split import validation_split

        p = self.params
        vsplit = validation_split(train, seed=p.validation_seed)
        if len(vsplit.test_users) == 0:
            raise AnimerecError(
                "hybrid: too few training users to learn fusion weights (no validation user "
                "has >= 10 ratings)"
            )
        users, hists = histories_from_ratings(vsplit.history)
        relevant = np.zeros((len(users), len(catalog)), bool)
        held = vsplit.heldout.take(vsplit.heldout.rating >= 9)
        pos = catalog.positions(held.anime_id)
        rows = np.searchsorted(users, held.user_id)
        relevant[rows[pos >= 0], pos[pos >= 0]] = True
        seen = seen_mask(hists, catalog)

        priors = ItemPriors.of(vsplit.train, catalog)
        raw = {}
        for m in p.members:
            model = self._make(m).fit(vsplit.train, catalog)
            raw[m] = np.asarray(model.score(hists), dtype=np.float32)
            del model
        prior_feats = [np.broadcast_to(priors.feature(x), relevant.shape) for x in p.priors]
        trace: list[dict[str, Any]] = []
        for alpha in p.debias:
            div = priors.debias(alpha) if alpha else None
            feats = [
                standardise(raw[m] / div if div is not None else raw[m], seen, p.normalise_top)
                for m in p.members
            ]
            _, _, t = learn_weights([*feats, *prior_feats], relevant, seen, p.k)
            trace += [{**row, "debias": alpha} for row in t]
            del feats
        chosen = pick(trace, p.coverage_tolerance)
        self.weights = np.asarray(chosen["weights"], dtype=np.float32)
        self.alpha = float(chosen["debias"])
        best = max(trace, key=lambda t: t["ndcg"])
        n_singles = len(self.feature_names)
        self.validation = {
            "n_users": int(len(users)),
            "n_counted": int((relevant.sum(axis=1) > 0).sum()),
            "ndcg": chosen["ndcg"],
            "distinct": chosen["distinct"],
            "best_ndcg": best["ndcg"],
            "best_distinct": best["distinct"],
            "single": {
                name: trace[i]["ndcg"] for i, name in enumerate(self.feature_names[:n_singles])
            },
            "n_tried": len(trace),
        }

    # --- the learned fusion, cached -------------------------------------------------------------
    def _fusion_key(self, train: Ratings, catalog: Catalog) -> tuple[str, dict[str, Any]] | None:
        """(key, settings) of this fit's learned fusion in ``WS/tuning/hybrid-fusion.json``:
        everything that decides it — the training data, each fitted member's model, parameters
        and item vectors (a re-encoded catalog changes the key), the priors and the search
        settings. None (no caching) without a workspace or with members built by factories."""
        ws = self.resolve_workspace()
        if ws is None or self._factories:
            return None
        from animerec.evaluate.tune import data_fingerprint

        p = self.params
        members = {}
        for m, model in self.members.items():
            vectors = model.item_vectors()
            members[m] = {
                "model": model.name,
                "params": {k: v for k, v in _params_dict(model).items() if k != "workspace"},
                "vectors": None if vectors is None else _array_hash(vectors),
            }
        settings = {
            "version": FUSION_VERSION,
            "data": data_fingerprint(train, catalog),
            "members": members,
            "priors": list(p.priors),
            "debias": list(p.debias),
            "normalise_top": p.normalise_top,
            "coverage_tolerance": p.coverage_tolerance,
            "validation_seed": p.validation_seed,
            "k": p.k,
            "grid": list(WEIGHT_GRID),
            "rounds": ROUNDS,
            "quality_prior_weight": QUALITY_PRIOR_WEIGHT,
        }
        blob = json.dumps(settings, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16], settings

    def _fusion_path(self) -> Path:
        return self.resolve_workspace().sub("tuning", f"{FUSION_CACHE}.json")

    def _read_fusion(self, key: str) -> dict[str, Any] | None:
        entry = _read_fusion_entries(self._fusion_path()).get(key)
        ok = isinstance(entry, dict) and {"weights", "alpha", "validation"} <= set(entry)
        if not ok or len(entry["weights"]) != len(self.feature_names):
            return None
        return entry

    def _write_fusion(self, key: str, settings: dict[str, Any]) -> None:
        path = self._fusion_path()
        entries = _read_fusion_entries(path)  # again: another process may have added one
        entries[key] = {
            "settings": settings,
            "feature_names": self.feature_names,
            "weights": [float(w) for w in self.weights],
            "alpha": self.alpha,
            "validation": self.validation,
        }
        write_json(path, {"model": FUSION_CACHE, "entries": entries})

    # --- scoring --------------------------------------------------------------------------------
    def score(self, histories: Sequence[History]) -> np.ndarray:
        catalog = self._require_fitted()
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
        hit = getattr(self._recent, "rows", {}).get(id(history))
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
        catalog = self._require_fitted()
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
        raters = int(self.priors.raters[position])
        if name == "quality" and raters:
            share = self.priors.promoters[position] / raters
            return f"{100 * share:.0f}% of its {raters:,} raters rated it 9+"
        return f"popular: {raters:,} people rated it"

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
            "member_params": {m: _params_dict(self.members[m]) for m in self.params.members},
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
        from animerec.recommend.registry import RECOMMENDERS

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
            model = RECOMMENDERS[model_of(m)].from_params(meta["member_params"][m])
            model.set_state(sub, catalog)
            self.members[m] = self._attach(model)
        self.catalog = catalog


def _read_fusion_entries(path: Path) -> dict[str, Any]:
    try:
        saved = read_json(path)
    except (OSError, ValueError):
        return {}
    if not isinstance(saved, dict) or saved.get("model") != FUSION_CACHE:
        return {}
    entries = saved.get("entries")
    return dict(entries) if isinstance(entries, dict) else {}


def _array_hash(a: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(a).view(np.uint8), usedforsecurity=False).hexdigest()[
        :16
    ]


def _params_dict(model: Recommender) -> dict[str, Any]:
    p = getattr(model, "params", None)
    return asdict(p) if p is not None and is_dataclass(p) else {}
