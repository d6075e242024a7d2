"""The one path from histories to ranked lists: score → push away dislikes → filter → rank →
re-rank → fallback.

``evaluate``, ``animerec recommend``, the API and the benchmarks all rank through
:func:`rank_batch` (or :func:`select` over scores they already hold), so filters, exploration,
spread and the popularity fallback behave the same everywhere. Explanations are a separate step
(:func:`animerec.recommend.explain.explain`), run only for lists that are shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from animerec.data.catalog import Catalog
from animerec.data.franchise import Franchises
from animerec.data.ratings import History, Ratings
from animerec.recommend.dislikes import DISLIKE_STRENGTH, DislikeNeighbours
from animerec.recommend.evidence import (
    MIN_RATERS,
    NEW_SLOTS,
    Evidence,
    admit_new,
    hold_back,
    keep_franchise_picks,
)
from animerec.recommend.explore import rerank
from animerec.recommend.filters import Filters
from animerec.recommend.franchise_order import DEPTH, franchises_of, order_by_franchise
from animerec.recommend.ranking import NONE, mask_rows, rank, top_k, valid
from animerec.recommend.spread import Spread, new_exposure, spread

if TYPE_CHECKING:
    from animerec.recommend.base import Recommender

__all__ = [
    "BLOCK_USERS",
    "Fallback",
    "RankOptions",
    "Ranked",
    "exclusions",
    "mask_seen",
    "rank_batch",
    "select",
]

BLOCK_USERS = 1024
"""Users scored at once (bounds the ``[users, n_items]`` score block)."""


@dataclass(frozen=True)
class RankOptions:
    """How lists are made: their length, what may appear, and the re-ranking step."""

    k: int = 10
    filters: Filters = field(default_factory=Filters)
    explore: float = 0.0
    """0 = best matches; up to 1 = more diverse, less popular titles (MMR within each list)."""
    spread: Spread | None = None
    """Spread a batch's last slots over more of the catalog (over the batch, not one list)."""
    franchise: bool = False
    """Entry points before sequels, one card per franchise, no recaps or music videos
    (:mod:`animerec.recommend.franchise_order`; at ``explore = 0`` without spread)."""
    dislike_strength: float = DISLIKE_STRENGTH
    """How far a history's dislikes push down what fans who disliked the same titles also
    disliked (:mod:`animerec.recommend.dislikes`; 0 = off; acts only where the caller hands
    :func:`select` the neighbours)."""
    min_raters: int = MIN_RATERS
    """Titles fewer training users rated are low-evidence: at ``explore = 0`` they come only
    as labelled new titles (:mod:`animerec.recommend.evidence`; 0 = no such rule)."""
    new_slots: int = NEW_SLOTS
    """How many labelled new titles a list at ``explore = 0`` may hold."""

    def __post_init__(self) -> None:
        if self.dislike_strength < 0:
            raise ValueError(f"dislike_strength must be >= 0, got {self.dislike_strength}")
        if self.k < 1:
            raise ValueError(f"k must be >= 1, got {self.k}")
        if not 0.0 <= self.explore <= 1.0:
            raise ValueError(f"explore must be in [0, 1], got {self.explore}")
        if self.min_raters < 0 or self.new_slots < 0:
            raise ValueError(
                f"min_raters and new_slots must be >= 0, got {self.min_raters}, {self.new_slots}"
            )
        if self.spread is not None and self.explore > 0:
            raise ValueError(
                "choose explore (within each list) or spread (over the batch), not both"
            )


@dataclass
class Ranked:
    """Ranked lists of a batch: catalog positions (``-1`` pads) and their scores."""

    positions: np.ndarray
    scores: np.ndarray
    plain: np.ndarray | None = None
    """The un-explored top k (what exploration changed is told apart in reasons)."""
    fallback: np.ndarray | None = None
    """``bool [n]``: rows the popularity fallback filled."""
    notes: list[list[str]] | None = None
    """Per item, what the franchise step says ("start with Code Geass: the franchise has 3
    more entries"; "" for nothing)."""
    new: np.ndarray | None = None
    """``bool [n, k]``: low-evidence titles (labelled new); None when no evidence was given."""

    def ids(self, catalog: Catalog, pad: int = -1) -> np.ndarray:
        """Anime ids ``int64 [n, k]``, ``pad`` where a list is shorter."""
        safe = np.maximum(self.positions, 0)
        return np.where(self.positions >= 0, catalog.anime_ids[safe], pad).astype(np.int64)


@dataclass(frozen=True)
class Fallback:
    """Most-loved titles for users a model can say nothing about (no history item it knows, so
    every score ties, or fewer than ``k`` scorable items): ranked by how many fans rated them
    ``min_rating`` or more."""

    fans: np.ndarray
    """``int [n_items]``: ratings >= ``min_rating`` per catalog position."""
    min_rating: int = 9

    @classmethod
    def of(cls, ratings: Ratings, catalog: Catalog, min_rating: int = 9) -> Fallback:
        pos = catalog.positions(ratings.anime_id[ratings.rating >= min_rating])
        return cls(np.bincount(pos[pos >= 0], minlength=len(catalog)), min_rating)

    @staticmethod
    def weak(positions: np.ndarray, scores: np.ndarray, k: int) -> np.ndarray:
        """``bool [n]``: lists that carry no information (short, or every score tied)."""
        n_items = (positions >= 0).sum(axis=1)
        rounded = np.round(np.where(positions >= 0, scores, np.nan).astype(np.float64), 9)
        lo, hi = (
            np.nanmin(_finite_or(rounded, np.inf), axis=1),
            np.nanmax(_finite_or(rounded, -np.inf), axis=1),
        )
        return (n_items < k) | ((n_items > 1) & (lo == hi))

    def scores(self) -> np.ndarray:
        """Fan counts as scores, ``-inf`` where nobody loved a title (never recommended)."""
        s = self.fans.astype(np.float32)
        s[self.fans <= 0] = -np.inf
        return s


def _finite_or(a: np.ndarray, fill: float) -> np.ndarray:
    return np.where(np.isnan(a), fill, a)


def mask_seen(scores: np.ndarray, histories: Sequence[History], catalog: Catalog) -> None:
    """Set the score of every item a history already holds to ``-inf`` (in place)."""
    mask_rows(scores, [catalog.positions(h.anime_ids) for h in histories])


def exclusions(
    histories: Sequence[History], catalog: Catalog, filters: Filters
) -> list[np.ndarray] | None:
    """Per row, the catalog positions ``filters`` hide: the history (``exclude_seen``) and the
    exclusion list."""
    extra = filters.excluded_positions(catalog) if filters.exclude else None
    if not filters.exclude_seen and extra is None:
        return None
    out = []
    for h in histories:
        parts = [catalog.positions(h.anime_ids)] if filters.exclude_seen else []
        if extra is not None:
            parts.append(extra)
        out.append(np.concatenate(parts) if parts else np.zeros(0, np.int64))
    return out


def select(
    scores: np.ndarray,
    histories: Sequence[History],
    catalog: Catalog,
    options: RankOptions,
    *,
    vectors: np.ndarray | None = None,
    exposure: np.ndarray | None = None,
    fallback: Fallback | None = None,
    franchises: Franchises | None = None,
    dislikes: DislikeNeighbours | None = None,
    evidence: Evidence | None = None,
) -> Ranked:
    """Rank ``scores`` (``[len(histories), n_items]``, modified in place) under ``options``.

    ``vectors`` are the item vectors exploration measures diversity with (genre vectors when
    ``None``); ``exposure`` carries a spread's counts from block to block; ``franchises`` (built
    from the catalog when ``None``) serve the franchise step; ``dislikes`` (None: no dislike
    step) are the neighbours a history's disliked titles push away; ``evidence`` (raters per
    title) holds low-evidence titles back (:mod:`animerec.recommend.evidence`).
    """
    scores = np.asarray(scores, dtype=np.float32)
    if dislikes is not None:
        dislikes.push_away(scores, histories, catalog, options.dislike_strength)
    k = options.k
    allow = options.filters.mask(catalog)
    # The franchise step reads DEPTH × k candidates: rank that deep once and keep the first k
    # (top_k's order is total — score, then catalog position — so they are the same k).
    franchise = options.franchise and options.explore <= 0 and options.spread is None
    positions, ranked = rank(
        scores,
        DEPTH * k if franchise else k,
        exclude=exclusions(histories, catalog, options.filters),
        allow=allow,
    )
    o = options
    held = hold_back(
        scores, evidence, min_raters=o.min_raters, new_slots=o.new_slots, explore=o.explore
    )
    weak = None  # a list is the fallback's when the model could not fill it, not the rule
    if held is not None and held.picks is not None and held.hit(positions):
        weak = Fallback.weak(positions[:, :k], ranked[:, :k], k)
        positions, ranked = rank(scores, positions.shape[1])  # again, without what was held
    deep = positions
    positions, ranked = positions[:, :k], ranked[:, :k]
    plain = None
    if options.explore > 0:
        plain = positions
        positions = valid(
            rerank(scores, k, explore=options.explore, catalog=catalog, vectors=vectors), scores
        )
    elif options.spread is not None:
        deep = valid(top_k(scores, options.spread.depth(k)), scores)
        positions = spread(deep, k, options.spread, scores.shape[1], exposure)
    if plain is not None or options.spread is not None:
        safe = np.maximum(positions, 0)
        ranked = np.where(positions >= 0, np.take_along_axis(scores, safe, axis=1), -np.inf)
    notes = None
    if franchise:
        groups = franchises or franchises_of(catalog)
        positions, ranked, notes = order_by_franchise(deep, scores, histories, catalog, groups, k)
        if held is not None:
            keep_franchise_picks(held, positions, groups)
    positions, ranked = _pad(positions, k), _pad(ranked.astype(np.float32), k, -np.inf)
    plain = None if plain is None else _pad(plain, k)
    out = Ranked(positions, ranked, plain, notes=notes)
    if fallback is not None:
        trusted = allow if held is None else held.trusted(allow)
        _fill(out, histories, catalog, options, fallback, trusted, dislikes, weak)
    if held is not None:
        plain_order = notes is None and options.spread is None
        before = out.positions
        out.positions, out.scores, out.new = admit_new(
            out.positions, out.scores, held, skip=out.fallback, by_score=plain_order
        )
        if out.notes is not None:
            out.notes = _renote(out.notes, before, out.positions)
    return out


def _renote(notes: list[list[str]], before: np.ndarray, after: np.ndarray) -> list[list[str]]:
    """Franchise notes for lists new titles entered: one per slot, and none on a slot that now
    holds a new title (the note was the entry it replaced; a short list had no note there)."""
    out = []
    for row, b, a in zip(notes, before.tolist(), after.tolist(), strict=True):
        row = list(row) + [""] * (len(a) - len(row))
        out.append([n if x == y else "" for n, x, y in zip(row, b, a, strict=False)])
    return out


def _pad(a: np.ndarray, k: int, value: float = NONE) -> np.ndarray:
    """``a`` with ``k`` columns: a catalog smaller than ``k`` leaves the rest padded."""
    if a.shape[1] >= k:
        return a
    return np.concatenate([a, np.full((len(a), k - a.shape[1]), value, a.dtype)], axis=1)


def _fill(
    out: Ranked,
    histories: Sequence[History],
    catalog: Catalog,
    options: RankOptions,
    fallback: Fallback,
    allow: np.ndarray | None,
    dislikes: DislikeNeighbours | None = None,
    weak: np.ndarray | None = None,
) -> None:
    weak = Fallback.weak(out.positions, out.scores, options.k) if weak is None else weak
    out.fallback = weak
    rows = np.flatnonzero(weak)
    if not len(rows):
        return
    pop = np.broadcast_to(fallback.scores(), (len(rows), len(catalog))).copy()
    picked = [histories[i] for i in rows]
    if dislikes is not None:  # a list made from dislikes alone still pushes them away
        dislikes.push_away(pop, picked, catalog, options.dislike_strength)
    pos, sc = rank(
        pop, options.k, exclude=exclusions(picked, catalog, options.filters), allow=allow
    )
    pos, sc = _pad(pos, options.k), _pad(sc, options.k, -np.inf)
    out.positions[rows], out.scores[rows] = pos, sc
    if out.plain is not None:
        out.plain[rows] = pos
    if out.notes is not None:
        for i in rows:
            out.notes[i] = [""] * options.k


def rank_batch(
    model: Recommender,
    histories: Sequence[History],
    options: RankOptions | None = None,
    *,
    fallback: Fallback | None = None,
    franchises: Franchises | None = None,
    dislikes: DislikeNeighbours | None = None,
    evidence: Evidence | None = None,
    block: int = BLOCK_USERS,
) -> Ranked:
    """Score ``histories`` with ``model`` in blocks and rank each block with :func:`select` (a
    spread carries its counts from block to block; ``dislikes``, ``evidence``: see
    :func:`select`)."""
    options = options or RankOptions()
    catalog = model.fitted_catalog()
    exposure = new_exposure(len(catalog)) if options.spread is not None else None
    vectors = model.item_vectors() if options.explore > 0 else None
    parts = []
    for s in range(0, len(histories), block):
        chunk = histories[s : s + block]
        scores = np.asarray(model.score(chunk), dtype=np.float32)
        parts.append(
            select(
                scores,
                chunk,
                catalog,
                options,
                vectors=vectors,
                exposure=exposure,
                fallback=fallback,
                franchises=franchises,
                dislikes=dislikes,
                evidence=evidence,
            )
        )
    return _concat(parts, options.k)


def _concat(parts: list[Ranked], k: int) -> Ranked:
    if not parts:
        return Ranked(np.full((0, k), NONE, np.int64), np.zeros((0, k), np.float32))
    plain = None if parts[0].plain is None else np.concatenate([p.plain for p in parts])
    fb = None if parts[0].fallback is None else np.concatenate([p.fallback for p in parts])
    notes = None if parts[0].notes is None else [row for p in parts for row in p.notes]
    new = None if parts[0].new is None else np.concatenate([p.new for p in parts])
    return Ranked(
        np.concatenate([p.positions for p in parts]),
        np.concatenate([p.scores for p in parts]),
        plain,
        fb,
        notes,
        new,
    )
