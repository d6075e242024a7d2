"""The one ranking step: score arrays in, ``(positions [n, k], scores [n, k])`` arrays out.

Every consumer — evaluation, the CLI, the API, the benchmarks — ranks through :func:`rank`, so
what "excluded", "allowed" and "a candidate" mean is decided once. Like implicit's
``recommend(..., filter_items=, items=)`` it works on a whole batch of rows at once and writes no
explanations (that is :mod:`animerec.recommend.explain`'s job, for the lists actually shown).
Positions index the catalog (``Catalog.anime_ids``); ``-1`` pads a row with fewer than ``k``
finite scores, and its score is ``-inf``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["NONE", "mask_rows", "rank", "top_k", "valid"]

NONE = -1
"""The position that pads a list shorter than ``k``."""


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` best scores per row, best first (ties broken by catalog position).

    A threshold pass first (:func:`_narrow`); rows it does not narrow go through
    ``argpartition`` over the whole row. The same result either way.
    """
    k = min(k, scores.shape[1])
    if k <= 0:
        return np.zeros((scores.shape[0], 0), np.int64)
    hit, narrow = _narrow(scores, k)
    if narrow.all():
        return _top_of_hits(scores, hit, k)
    out = np.empty((len(scores), k), np.int64)
    if narrow.any():
        out[narrow] = _top_of_hits(scores[narrow], hit[narrow], k)
    out[~narrow] = _top_k_partition(scores[~narrow], k)
    return out


def _narrow(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``(hit, narrow)``: per row, the entries at or above a floor, and whether they are at
    least ``k`` and few enough to sort (``0 < k <= n_items``).

    At least ``k`` entries at or above the floor put the ``k``-th best score there too, so the
    hits hold the whole top ``k``, all its ties included — whatever the floor. The floor is the
    ``k``-th best of the maxima of ``16 k`` strided chunks of the row: a few hundred hits of
    17,562 for a real model's row, found in two passes at a third of ``argpartition``'s cost
    over the row. A row of mostly ``-inf`` or NaN is not narrowed.
    """
    n, m = scores.shape
    if n == 0 or m < 8 * k:
        return np.zeros((n, m), bool), np.zeros(n, bool)
    q = min(16 * k, m // 2)
    # chunk j = positions j, j + q, j + 2q, …: a max over the middle axis is c vector maxima
    chunk_max = scores[:, : q * (m // q)].reshape(n, m // q, q).max(axis=1)
    floor = np.partition(chunk_max, q - k, axis=1)[:, q - k]  # NaN sorts last
    with np.errstate(invalid="ignore"):
        hit = scores >= floor[:, None]
    counts = hit.sum(axis=1)
    return hit, (counts >= k) & (counts <= max(4 * k, m // 16))


def _top_of_hits(scores: np.ndarray, hit: np.ndarray, k: int) -> np.ndarray:
    """The top ``k`` per row among the ``hit`` entries (each row holds ≥ ``k`` of them)."""
    rows, cols = np.nonzero(hit)  # row-major: rows ascending, columns ascending within a row
    order = np.lexsort((-scores[rows, cols], rows))  # stable: ties keep the column order
    starts = np.searchsorted(rows, np.arange(len(scores)))
    return cols[order][starts[:, None] + np.arange(k)].astype(np.int64, copy=False)


def _top_k_partition(scores: np.ndarray, k: int) -> np.ndarray:
    """:func:`top_k` by ``argpartition`` over the whole row (``0 < k <= n_items``)."""
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    part_scores = np.take_along_axis(scores, part, axis=1)
    # argpartition picks arbitrarily among items tied with the k-th best score: redo those rows
    kth = part_scores.min(axis=1)
    tied = np.flatnonzero((scores >= kth[:, None]).sum(axis=1) > k)
    for i in tied:
        idx = np.flatnonzero(scores[i] >= kth[i])  # ascending catalog position
        part[i] = idx[np.argsort(-scores[i, idx], kind="stable")[:k]]
        part_scores[i] = scores[i, part[i]]
    order = np.lexsort((part, -part_scores), axis=1)
    return np.take_along_axis(part, order, axis=1)


def mask_rows(scores: np.ndarray, positions: Sequence[np.ndarray]) -> None:
    """Set ``scores[i, positions[i]]`` to ``-inf`` for every row (in place; ``-1`` ignored)."""
    for i, pos in enumerate(positions):
        pos = np.asarray(pos, np.int64)
        scores[i, pos[pos >= 0]] = -np.inf


def valid(positions: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """``positions`` with ``-1`` wherever the ranked item's score is not finite."""
    safe = np.maximum(positions, 0)
    ok = (positions >= 0) & np.isfinite(np.take_along_axis(scores, safe, axis=1))
    return np.where(ok, positions, NONE)


def rank(
    scores: np.ndarray,
    k: int,
    *,
    exclude: Sequence[np.ndarray] | None = None,
    allow: np.ndarray | None = None,
    candidates: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Rank each row of ``scores`` (``float [n, n_items]``, modified in place) and keep ``k``.

    ``exclude`` holds, per row, catalog positions that may not be returned (what the user has
    seen, what they asked to hide); ``allow`` is a ``bool [n_items]`` mask of what may be
    returned at all (the metadata filters); ``candidates`` (``int [n, c]``, ``-1`` padded)
    restricts each row to its own candidate set, as a second-stage ranker does. Masked items
    get ``-inf`` and never appear. Returns ``(positions int64 [n, k], scores float32 [n, k])``.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if exclude is not None:
        if len(exclude) != len(scores):
            raise ValueError(f"exclude has {len(exclude)} rows, scores {len(scores)}")
        mask_rows(scores, exclude)
    if allow is not None:
        scores[:, ~np.asarray(allow, bool)] = -np.inf
    if candidates is not None:
        keep = np.zeros(scores.shape, bool)
        rows = np.repeat(np.arange(len(scores)), candidates.shape[1])
        cols = np.asarray(candidates, np.int64).ravel()
        keep[rows[cols >= 0], cols[cols >= 0]] = True
        scores[~keep] = -np.inf
    positions = valid(top_k(scores, k), scores)
    ranked = np.where(
        positions >= 0, np.take_along_axis(scores, np.maximum(positions, 0), axis=1), -np.inf
    )
    return positions, ranked.astype(np.float32)
