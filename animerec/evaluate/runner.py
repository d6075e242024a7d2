"""Run the DESIGN §5 protocol for a list of recommenders and measure each one the same way.

The split is made once. Every model is fitted on ``split.train`` alone and asked, in one batch,
for the test users' top k given only their ``split.history``; ``split.heldout`` is read by the
metrics and nothing else. Hyper-parameters come from :mod:`animerec.evaluate.tune`, which sees
``split.train`` only.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from animerec.data.catalog import Catalog
from animerec.data.fingerprint import data_fingerprint
from animerec.data.ratings import Ratings
from animerec.data.split import HOLDOUT, SEED, Protocol, Split, protocol_split
from animerec.embed.registry import resolve_auto, training_users
from animerec.errors import AnimerecError
from animerec.evaluate.measure import (
    EvalSettings,
    measure,
    rank_lists,
    users_context,
)
from animerec.evaluate.metrics import (
    RELEVANT,
    EvalResult,
)
from animerec.evaluate.protocols import ProtocolRuns, base_protocol, only_holdout, prepare
from animerec.evaluate.tune import Tuning, tune, tune_protocols
from animerec.recommend.base import Recommender
from animerec.recommend.context import Context, FitPool
from animerec.recommend.dislikes import DISLIKE_STRENGTH
from animerec.recommend.evidence import MIN_RATERS
from animerec.recommend.registry import (
    ModelSpec,
    check_model_names,
    param_names,
    recommender_class,
    resolve,
)
from animerec.recommend.spread import Spread
from animerec.workspace import Workspace


@dataclass
class Evaluation:
    """One run of the protocol: the per-model results plus what they were measured on."""

    results: list[EvalResult]
    settings: EvalSettings
    split: dict[str, Any]
    """Counts that describe the split (users, ratings, cold-start items…)."""
    data_fingerprint: str
    tunings: dict[str, Tuning] = field(default_factory=dict)
    models: dict[str, Recommender] = field(default_factory=dict)
    """The fitted models, when ``evaluate(..., keep_models=True)``."""
    protocols: dict[str, Any] | None = None
    """Per protocol and model (:func:`animerec.evaluate.protocols.compare`); None when the
    run is the hold-out alone."""
    protocol_tunings: dict[str, dict[str, Tuning]] = field(default_factory=dict)
    """Per model tuned per protocol: protocol name → its tuning."""


# --- checks before any work ---------------------------------------------------------------------
def check_explore(values: Sequence[float]) -> None:
    """Exploration > 0 needs the re-ranker module; say so before any model is fitted."""
    for x in values:
        if not 0.0 <= x <= 1.0:
            raise AnimerecError(f"explore must be in [0, 1], got {x}")
    if (
        any(x > 0 for x in values)
        and importlib.util.find_spec("animerec.recommend.explore") is None
    ):
        raise AnimerecError(
            "explore > 0 needs the exploration re-ranker (animerec.recommend.explore), which is "
            "not installed yet; run with --explore 0"
        )


# --- split checks -----------------------------------------------------------------------------------
def check_split(split: Split) -> None:
    """The guarantees the protocol rests on; a violation is a bug, so this raises ``AssertionError``."""
    if np.isin(split.train.user_id, split.test_users).any():
        raise AssertionError("a test user has ratings in split.train")
    key = lambda r: r.user_id * (1 << 32) + r.anime_id  # noqa: E731
    if np.intersect1d(key(split.history), key(split.heldout)).size:
        raise AssertionError("a held-out (user, anime) pair is also in the history")
    if not np.isin(split.heldout.user_id, split.test_users).all():
        raise AssertionError("held-out ratings of a user who is not a test user")


# --- helpers over the catalog -----------------------------------------------------------------------
def check_embedder_users(
    name: str, embedder: str | None, workspace: Workspace | None, split: Split
) -> None:
    """Refuse an embedder fine-tuned on the ratings of any test user: the content scores would
    carry their held-out taste into the very ranking they are measured on."""
    if not embedder:
        return
    embedder = resolve_auto(embedder, workspace)
    try:
        users = training_users(embedder, workspace)
    except AnimerecError:
        return  # an unknown embedder fails later, with its own message
    if users is None:
        return
    seen = np.intersect1d(users, split.test_users)
    if len(seen):
        raise AnimerecError(
            f"{name}: embedder {embedder!r} was fine-tuned on ratings of {len(seen):,} of this "
            f"evaluation's {len(split.test_users):,} test users (e.g. user {int(seen[0])}); "
            "evaluating with it would leak — fine-tune it with --users train"
        )


def _has_members(name: str, given: Mapping[str, Any]) -> bool:
    """Whether model ``name`` fits other models as members (a hybrid) with these parameters."""
    cls = recommender_class(name)
    given = {key: v for key, v in given.items() if key in param_names(cls)}
    return bool(cls.members_of({**asdict(cls.Params()), **given}))


def instance_embedders(model: Recommender) -> list[tuple[str, str]]:
    """``(which model, embedder)`` an unfitted model built by the caller will read (none when
    it was given its vectors)."""
    p = asdict(model.params)
    if not p.get("embedder") or "vectors" in model.input_identity():
        return []
    members = dict(p.get("member_params") or {})
    return [(model.name, str(p["embedder"]))] + [
        (f"{model.name} member {m}", str(mp["embedder"]))
        for m, mp in members.items()
        if mp.get("embedder")
    ]


# --- the public entry point ---------------------------------------------------------------------------
def evaluate(
    models: Sequence[str | Recommender],
    ratings: Ratings,
    catalog: Catalog,
    *,
    k: int = 10,
    explore: Sequence[float] = (0.0,),
    seed: int = SEED,
    workspace: Workspace | None = None,
    retune: bool = False,
    tune_models: bool = True,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    item_vectors: np.ndarray | None = None,
    n_bootstrap: int = 1000,
    split: Split | None = None,
    keep_models: bool = False,
    spread: Spread | None = None,
    log: Callable[[str], None] | None = None,
    protocols: Sequence[Protocol] = (HOLDOUT,),
    tune_per_protocol: Collection[str] = (),
    dislike_strength: float = DISLIKE_STRENGTH,
    min_raters: int = MIN_RATERS,
) -> Evaluation:
    """Evaluate ``models`` (registry names or unfitted :class:`Recommender` instances).

    A name is resolved by :func:`animerec.recommend.registry.resolve` with ``params[name]``
    (e.g. ``{"embedder": "minilm"}``): ``auto`` pinned, the rest of the class's
    ``search_space`` chosen by grid search on training users (cached in ``WS/tuning`` when a
    ``workspace`` is given; a hybrid's members likewise), and built with a
    :class:`~animerec.recommend.context.Context` holding ``workspace`` and the run's fit pool.
    Instances are used as they are. ``split`` overrides the protocol
    split (for tests that tamper with it); ``keep_models`` keeps the fitted models in
    :attr:`Evaluation.models`; ``spread`` spreads every model's lists over the catalog across
    the test users (:mod:`animerec.recommend.spread`).

    ``protocols`` beyond the hold-out (``likesN``, ``likesN+d1``) rank every fitted model again
    for those inputs (:mod:`animerec.evaluate.protocols`; the fit is shared, the training users
    being the same); the models named in ``tune_per_protocol`` are tuned per protocol on
    validation users under that protocol, and fitted once more per distinct parameter set.

    ``dislike_strength`` is the ranking pipeline's dislike step (the served default; 0 = off),
    its neighbours built from ``split.train``.

    ``min_raters``: the ranking pipeline's evidence rule as served (titles fewer training users
    rated come only as labelled new titles, :mod:`animerec.recommend.evidence`; 0 = off).
    """
    if k < 1:
        raise AnimerecError(f"k must be >= 1, got {k}")
    xs = tuple(dict.fromkeys([0.0, *(float(x) for x in explore)]))
    check_explore(xs)
    names = [m for m in models if isinstance(m, str)]
    if len(set(names)) != len(names):
        raise AnimerecError(f"a model is listed twice: {', '.join(names)}")
    if names:
        check_model_names(names)  # before any work
    settings = EvalSettings(
        k=k,
        explore=xs,
        seed=seed,
        n_bootstrap=n_bootstrap,
        tune=tune_models,
        retune=retune,
        spread=spread,
        dislike_strength=dislike_strength,
        min_raters=min_raters,
    )
    split = protocol_split(ratings, seed=seed) if split is None else split
    check_split(split)
    ctx = users_context(split, catalog, settings, item_vectors)
    protocols = list(dict.fromkeys(protocols))
    extra = not only_holdout(protocols)
    pdata = prepare(split, protocols, seed=seed) if extra else []
    tuned_protocols = list(dict.fromkeys([HOLDOUT, *(base_protocol(p) for p in protocols)]))
    ptunings: dict[str, dict[str, Tuning]] = {}

    def rank(model: Recommender, hists: list) -> np.ndarray:
        """The plain lists of one protocol, through the pipeline as served."""
        got = rank_lists(
            model, hists, k, cold_mask=None, spread=spread, dislikes=ctx.dislikes,
            dislike_strength=dislike_strength, evidence=ctx.evidence, min_raters=min_raters,
        )  # fmt: skip
        return got.top

    runs = ProtocolRuns(pdata, k, rank)
    cache_dir = workspace.sub("tuning") if workspace is not None else None

    results, models_out = [], {}
    tunings: dict[str, Tuning] = {}

    def search(
        cache_name: str,
        cls: type[Recommender],
        fixed: dict[str, Any],
        owner: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        """Grid search on the training users (a hybrid's members: at the hybrid's k and the
        default seed, never re-tuned, not reported)."""
        run = Context(workspace)
        space = {key: v for key, v in cls.search_space.items() if key not in fixed}
        make = lambda **kw: cls.build(kw, run)  # noqa: E731
        if owner is not None:
            kw = dict(k=owner["k"], fixed=fixed, cache_dir=cache_dir)
            return tune(cache_name, make, space, split.train, catalog, **kw).best
        if log is not None:
            log(f"tuning {cache_name} over {space}")
        if extra and cache_name in tune_per_protocol:
            per = tune_protocols(
                cache_name, make, space, split.train, catalog, protocols=tuned_protocols,
                k=k, seed=seed, fixed=fixed, cache_dir=cache_dir, retune=retune, log=log,
            )  # fmt: skip
            ptunings[cache_name] = per
            tunings[cache_name] = per[HOLDOUT.name]
            return per[HOLDOUT.name].best
        tuning = tune(
            cache_name, make, space, split.train, catalog,
            k=k, seed=seed, fixed=fixed, cache_dir=cache_dir, retune=retune, log=log,
        )  # fmt: skip
        tunings[cache_name] = tuning
        return tuning.best

    def spec_of(name: str, tuner: Callable[..., dict[str, Any]] | None = None) -> ModelSpec:
        # settings shared by every model (the CLI's --embedder) go to those that have them
        allowed = param_names(recommender_class(name))
        given = {key: v for key, v in (params or {}).get(name, {}).items() if key in allowed}
        tuner = tuner or (search if tune_models else None)
        return resolve(name, given, workspace, tuner=tuner, member_tuner=search)

    def protocol_model(m: str | Recommender, model: Recommender, p: Protocol, *, fits: dict):
        """``model``, or the same model with the parameters tuned for protocol ``p`` (fitted
        on ``split.train`` once per distinct parameter set)."""
        if not isinstance(m, str) or m not in ptunings:
            return model
        best = ptunings[m][base_protocol(p).name].best
        other = spec_of(m, lambda *_: best).build(context)
        key = FitPool.key(other)
        if key == FitPool.key(model):
            return model
        if key not in fits:
            if log is not None:
                log(f"fitting {m} with its {base_protocol(p).name} parameters {best}")
            other.fit(split.train, catalog)
            fits[key] = other
        return fits[key]

    # Models fitted in this run, for a hybrid's members (only kept when a hybrid is evaluated).
    pool = FitPool() if any(_has_members(n, (params or {}).get(n, {})) for n in names) else None
    context = Context(workspace, pool, retune)
    for m in models:
        if isinstance(m, str):
            spec = spec_of(m)  # tunes now, just before the model is measured
            for which, emb in spec.embedders():
                check_embedder_users(which, emb, workspace, split)
            model = spec.build(context)
            tuning = tunings.get(m)
        else:
            model, tuning = m, None
            for which, emb in instance_embedders(model):
                check_embedder_users(which, emb, model.context.workspace or workspace, split)
        if log is not None:
            log(f"evaluating {model.name}")
        results.append(measure(model, ctx, params=asdict(model.params), tuning=tuning, pool=pool))
        if extra:
            if log is not None:
                log(f"ranking {model.name} under {', '.join(d.protocol.name for d in pdata)}")
            fits: dict[str, Recommender] = {}  # this model's fits at other parameters
            runs.add(model, partial(protocol_model, m, model, fits=fits), results[-1].recommended)
        if keep_models:
            models_out[model.name] = model

    split_info = {
        "seed": seed,
        "n_users": int(len(np.unique(ratings.user_id))),
        "n_train_users": int(len(split.train_users)),
        "n_test_users": int(len(split.test_users)),
        "n_counted_users": int(results[0].n_users) if results else None,
        "n_train_ratings": len(split.train),
        "n_history_ratings": len(split.history),
        "n_heldout_ratings": len(split.heldout),
        "n_heldout_relevant": int((split.heldout.rating >= RELEVANT).sum()),
        "n_catalog": len(catalog),
        "n_train_items": int(len(ctx.train_items)),
        "n_cold_items": int(ctx.cold_mask.sum()),
        "min_raters": min_raters,
        "low_evidence_below": ctx.evidence.threshold(min_raters),
        "n_low_evidence_items": int(ctx.evidence.low(min_raters).sum()),
        "coverage_denominator": "anime rated by >= 1 training user",
        "relevant": f"held-out rating >= {RELEVANT}",
    }
    protocols_out = runs.result(ptunings, n_bootstrap=n_bootstrap, seed=seed) if extra else None
    return Evaluation(
        protocols=protocols_out,
        protocol_tunings=ptunings,
        results=results,
        settings=settings,
        split=split_info,
        data_fingerprint=data_fingerprint(ratings, catalog),
        tunings=tunings,
        models=models_out,
    )


def default_report_dir(workspace: Workspace, name: str | None = None) -> Path:
    """``WS/reports/eval-<name or UTC timestamp>``."""
    stamp = name or time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    return workspace.reports_dir / f"eval-{stamp}"
