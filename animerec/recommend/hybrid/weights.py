"""Weight learning: the fusion weights that maximise validation NDCG@k, by coordinate ascent.

The objective is the evaluation's own binary NDCG (:func:`animerec.recommend.ndcg.ndcg`, one
definition for both); :func:`pick` then trades a little of it for catalog coverage.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from animerec.recommend.ndcg import ndcg
from animerec.recommend.ranking import top_k

__all__ = ["ROUNDS", "WEIGHT_GRID", "learn_weights", "ndcg_at_k", "pick", "ranking_quality"]

WEIGHT_GRID = (-1.0, -0.5, -0.25, -0.1, 0.0, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
"""Values coordinate ascent tries for each weight (the first member's weight stays 1)."""
ROUNDS = 3
"""Coordinate-ascent sweeps over the weights."""


def ranking_quality(
    fused: np.ndarray, relevant: np.ndarray, n_relevant: np.ndarray, k: int
) -> tuple[float, float]:
    """(mean binary NDCG@k over rows with ≥ 1 relevant item — the evaluation's definition —,
    share of distinct items among all recommended slots: the batch's catalog coverage)."""
    top = top_k(fused, k)
    finite = np.isfinite(np.take_along_axis(fused, top, axis=1))
    rel = np.take_along_axis(relevant, top, axis=1) & finite
    per_row = ndcg(rel, n_relevant, k)
    mean = float(np.mean(per_row)) if len(per_row) else float("nan")
    distinct = len(np.unique(top[finite])) / max(int(finite.sum()), 1)
    return mean, distinct


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
