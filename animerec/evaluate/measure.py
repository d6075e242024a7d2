"""Measuring one fitted model on the test users: its lists through the ranking pipeline
(plain, explored, cold-start) and every figure of the report drawn from them."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from animerec.data.catalog import Catalog
from animerec.data.genres import parse_genres
from animerec.data.ratings import History, histories_from_ratings
from animerec.data.split import SEED, Split
from animerec.evaluate.franchise import FranchiseIndex
from animerec.evaluate.metrics import (
    PAD,
    RELEVANT,
    EvalResult,
    bootstrap_ci,
    bootstrap_ratio_ci,
    coverage,
    intra_list_diversity,
    lookup_heldout,
    mean_popularity_rank,
    novelty,
    nps_by_rank_bucket,
    nps_pooled,
    nps_user_parts,
    ranking_metrics,
)
from animerec.evaluate.tune import Tuning
from animerec.recommend.base import Recommender
from animerec.recommend.context import FitPool
from animerec.recommend.dislikes import DISLIKE_STRENGTH, DislikeNeighbours
from animerec.recommend.evidence import MIN_RATERS, Evidence
from animerec.recommend.filters import Filters
from animerec.recommend.pipeline import RankOptions, select
from animerec.recommend.spread import Spread, new_exposure

BATCH_USERS = 2048
"""Test users scored per block (bounds the dense ``[users, catalog]`` score block)."""


@dataclass(frozen=True)
class EvalSettings:
    k: int = 10
    explore: tuple[float, ...] = (0.0,)
    seed: int = SEED
    n_bootstrap: int = 1000
    tune: bool = True
    retune: bool = False
    spread: Spread | None = None
    """Spread every model's lists over the catalog across the test users (the batch)."""
    dislike_strength: float = DISLIKE_STRENGTH
    """The dislike step's strength (:mod:`animerec.recommend.dislikes`; 0 = off), as served."""
    min_raters: int = MIN_RATERS
    """The ranking pipeline's evidence rule, as served (0: off; :mod:`~animerec.recommend.evidence`)."""


def genre_vectors(catalog: Catalog) -> np.ndarray:
    """L2-normalised multi-hot genre vectors per catalog position (zero rows for no genres)."""
    col = catalog.frame.get("genres")
    lists = [parse_genres(v) for v in (col if col is not None else [None] * len(catalog))]
    vocab = sorted({g for gs in lists for g in gs})
    index = {g: i for i, g in enumerate(vocab)}
    m = np.zeros((len(catalog), max(len(vocab), 1)), np.float32)
    for row, gs in enumerate(lists):
        m[row, [index[g] for g in gs]] = 1.0
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    return m / np.where(norms == 0, 1, norms)


def _popularity(catalog: Catalog) -> np.ndarray:
    if "popularity" not in catalog.frame:
        return np.full(len(catalog), np.nan)
    return catalog.frame["popularity"].to_numpy(dtype=np.float64, na_value=np.nan)


@dataclass
class Lists:
    """Every list one evaluation needs from a model, from a single scoring of the test users."""

    top: np.ndarray
    """``int64 [n_users, k]`` anime ids (PAD where fewer than k items can be scored)."""
    cold: np.ndarray
    """The same among cold-start items only."""
    explored: dict[float, np.ndarray]
    """Re-ranked lists per exploration level (0 is :attr:`top`)."""
    recommend_s: float
    """Seconds to score and rank the plain top k (the cold/explore variants not included)."""


def rank_lists(
    model: Recommender,
    histories: Sequence[History],
    k: int,
    *,
    cold_mask: np.ndarray | None,
    explore: Sequence[float] = (0.0,),
    spread: Spread | None = None,
    filters: Filters | None = None,
    dislikes: DislikeNeighbours | None = None,
    dislike_strength: float = DISLIKE_STRENGTH,
    evidence: Evidence | None = None,
    min_raters: int = MIN_RATERS,
) -> Lists:
    """Score the histories once and rank them through the one ranking pipeline
    (:func:`animerec.recommend.pipeline.select`) for every list the report needs — plain (or
    spread), each exploration level, and among cold-start items only — without explanations,
    which evaluation does not read. ``cold_mask`` None: no cold-start lists (empty).

    ``dislikes``: the pipeline's dislike step, run once on the scores every list shares.
    ``evidence`` (training raters per title) applies the pipeline's evidence rule at
    ``min_raters`` to the plain lists as served; the cold-start lists are the cold-start path,
    asked among titles nobody rated, so the rule does not hold them back."""
    xs = [x for x in explore if x > 0]
    catalog = model.fitted_catalog()
    filters = filters or Filters()
    plain = RankOptions(k=k, filters=filters, spread=spread, min_raters=min_raters)
    explored_opts = {
        x: RankOptions(k=k, filters=filters, explore=x, min_raters=min_raters) for x in xs
    }
    cold_ids = () if cold_mask is None else tuple(int(a) for a in catalog.anime_ids[cold_mask])
    if filters.allow is not None:
        cold_ids = tuple(sorted(set(cold_ids) & set(filters.allow)))
    cold = RankOptions(k=k, filters=replace(filters, allow=cold_ids), min_raters=0)
    exposure = new_exposure(len(catalog)) if spread is not None else None
    vectors = model.item_vectors() if xs else None
    tops, colds, exps, rec_s = [], [], {x: [] for x in xs}, 0.0
    for s in range(0, len(histories), BATCH_USERS):
        block = histories[s : s + BATCH_USERS]
        t0 = time.perf_counter()
        scores = np.asarray(model.score(block), dtype=np.float32)
        if dislikes is not None:  # once: the lists below all rank these scores
            dislikes.push_away(scores, block, catalog, dislike_strength)
        rec_s += time.perf_counter() - t0
        # select masks the scores it ranks in place: the explored and cold-start lists first
        # (the cold ones on a copy: they mask every rated title), the plain ones last.
        for x, opts in explored_opts.items():
            got = select(scores, block, catalog, opts, vectors=vectors, evidence=evidence)
            exps[x].append(got.ids(catalog, PAD))
        if cold_mask is not None:
            colds.append(select(scores.copy(), block, catalog, cold).ids(catalog, PAD))
        t0 = time.perf_counter()
        got = select(scores, block, catalog, plain, exposure=exposure, evidence=evidence)
        tops.append(got.ids(catalog, PAD))
        rec_s += time.perf_counter() - t0
    join = lambda parts: np.concatenate(parts) if parts else np.zeros((0, k), np.int64)  # noqa: E731
    top = join(tops)
    return Lists(top, join(colds), {0.0: top, **{x: join(v) for x, v in exps.items()}}, rec_s)


def _positions(ids: np.ndarray, catalog: Catalog) -> np.ndarray:
    pos = catalog.positions(ids.ravel()).reshape(ids.shape)
    return np.where(ids == PAD, -1, pos)


def _mean(x: np.ndarray) -> float:
    return float(np.mean(x)) if len(x) else float("nan")


@dataclass
class UsersContext:
    """Everything shared by the models of one run (computed once)."""

    split: Split
    catalog: Catalog
    users: np.ndarray
    histories: list[History]
    history_positions: list[np.ndarray]
    train_items: np.ndarray
    cold_mask: np.ndarray
    cold_items: np.ndarray
    evidence: Evidence
    """Raters per title among the training users (the pipeline's evidence rule)."""
    popularity: np.ndarray
    item_share: np.ndarray
    item_vectors: np.ndarray
    franchise: FranchiseIndex
    settings: EvalSettings
    dislikes: DislikeNeighbours | None = None
    """The dislike step's neighbours, from the training users (None when it is off)."""


def users_context(
    split: Split, catalog: Catalog, settings: EvalSettings, item_vectors: np.ndarray | None
) -> UsersContext:
    users, histories = histories_from_ratings(split.history)
    if not np.array_equal(users, split.test_users):
        raise AssertionError("every test user must have a non-empty history")
    train_pos = catalog.positions(split.train.anime_id)
    counts = np.bincount(train_pos[train_pos >= 0], minlength=len(catalog))
    cold_mask = counts == 0
    n_train_users = len(np.unique(split.train.user_id))
    vectors = (
        genre_vectors(catalog) if item_vectors is None else np.asarray(item_vectors, np.float32)
    )
    if len(vectors) != len(catalog):
        raise ValueError(f"item_vectors has {len(vectors)} rows, the catalog {len(catalog)}")
    return UsersContext(
        split=split,
        catalog=catalog,
        users=users,
        histories=histories,
        history_positions=[catalog.positions(h.anime_ids) for h in histories],
        train_items=catalog.anime_ids[~cold_mask],
        cold_mask=cold_mask,
        cold_items=np.sort(catalog.anime_ids[cold_mask]),
        evidence=Evidence(counts.astype(np.int64), n_train_users),
        popularity=_popularity(catalog),
        item_share=(counts + 1.0) / (n_train_users + 1.0),
        item_vectors=vectors,
        franchise=FranchiseIndex(catalog.frame["name"].tolist()),
        settings=settings,
        dislikes=(
            DislikeNeighbours.of(split.train, catalog) if settings.dislike_strength > 0 else None
        ),
    )


# --- measuring one model ------------------------------------------------------------------------------
def _cold_start(ids: np.ndarray, ctx: UsersContext) -> dict[str, Any]:
    """Lists drawn among cold-start items only, scored against held-out relevant cold-start items."""
    k, s = ctx.settings.k, ctx.settings
    look = lookup_heldout(ids, ctx.split.heldout, ctx.users, relevant_items=ctx.cold_items)
    m = ranking_metrics(look, ctx.users, k)
    held_cold = np.isin(ctx.split.heldout.anime_id, ctx.cold_items)
    nps = nps_pooled(look.rating)
    return {
        "n_items": int(ctx.cold_mask.sum()),
        "n_heldout": int(held_cold.sum()),
        "n_heldout_relevant": int((held_cold & (ctx.split.heldout.rating >= RELEVANT)).sum()),
        "n_users": len(m.users),
        "n_users_served": int((ids[:, 0] != PAD).sum()),
        "recall": bootstrap_ci(m.recall, s.n_bootstrap, s.seed).as_dict(),
        "hr": bootstrap_ci(m.hr, s.n_bootstrap, s.seed).as_dict(),
        "ndcg": bootstrap_ci(m.ndcg, s.n_bootstrap, s.seed).as_dict(),
        "nps": {"value": nps.value, "n": nps.n},
    }


def _explore_point(ids: np.ndarray, ctx: UsersContext, x: float) -> dict[str, Any]:
    k = ctx.settings.k
    m = ranking_metrics(lookup_heldout(ids, ctx.split.heldout, ctx.users), ctx.users, k)
    pos = _positions(ids, ctx.catalog)
    return {
        "explore": x,
        "ndcg": _mean(m.ndcg),
        "hr": _mean(m.hr),
        "recall": _mean(m.recall),
        "diversity": intra_list_diversity(pos, ctx.item_vectors),
        "novelty": novelty(pos, ctx.item_share),
        "coverage": coverage(ids, ctx.train_items),
        "mean_popularity_rank": mean_popularity_rank(pos, ctx.popularity),
    }


def measure(
    model: Recommender,
    ctx: UsersContext,
    *,
    params: dict[str, Any],
    tuning: Tuning | None = None,
    pool: FitPool | None = None,
) -> EvalResult:
    """Fit on ``split.train``, recommend for the test histories, and compute every metric.

    With a ``pool`` (the one in the context the run's models were built with), the fitted
    model joins it, so a hybrid later in the run takes it as a member instead of fitting the
    same model on the same training users again."""
    s, k = ctx.settings, ctx.settings.k
    t0 = time.perf_counter()
    model.fit(ctx.split.train, ctx.catalog)
    fit_s = time.perf_counter() - t0
    if pool is not None:
        pool.add(model, ctx.split.train, ctx.catalog)
    lists = rank_lists(
        model, ctx.histories, k, cold_mask=ctx.cold_mask, explore=s.explore, spread=s.spread,
        dislikes=ctx.dislikes, dislike_strength=s.dislike_strength, evidence=ctx.evidence,
        min_raters=s.min_raters,
    )  # fmt: skip
    ids = lists.top

    look = lookup_heldout(ids, ctx.split.heldout, ctx.users)
    m = ranking_metrics(look, ctx.users, k)
    nps_sum, nps_n = nps_user_parts(look.rating)
    pos = _positions(ids, ctx.catalog)
    same = ctx.franchise.share_matrix(pos, ctx.history_positions)
    hit_cells = look.rating >= RELEVANT
    n_hits = int(hit_cells.sum())

    explore_rows = [_explore_point(lists.explored[x], ctx, float(x)) for x in s.explore]

    return EvalResult(
        model=model.name,
        params=params,
        k=k,
        n_users=len(m.users),
        ndcg=bootstrap_ci(m.ndcg, s.n_bootstrap, s.seed),
        hr=bootstrap_ci(m.hr, s.n_bootstrap, s.seed),
        recall=bootstrap_ci(m.recall, s.n_bootstrap, s.seed),
        nps=nps_pooled(look.rating),
        nps_ci=bootstrap_ratio_ci(nps_sum, nps_n, s.n_bootstrap, s.seed),
        nps_buckets=nps_by_rank_bucket(look.rating),
        coverage=coverage(ids, ctx.train_items),
        n_distinct=int(len(np.unique(ids[ids != PAD]))),
        mean_popularity_rank=mean_popularity_rank(pos, ctx.popularity),
        franchise_share_hits=float(same[hit_cells].mean()) if n_hits else float("nan"),
        franchise_share_recs=float(same[pos >= 0].mean()) if (pos >= 0).any() else float("nan"),
        n_hits=n_hits,
        fit_s=fit_s,
        recommend_s=lists.recommend_s,
        cold=_cold_start(lists.cold, ctx),
        explore=explore_rows,
        tuning=tuning.as_dict() if tuning is not None else None,
        recommended=ids,
        recommended_cold=lists.cold,
    )
