"""Per-user metrics of a run, and paired deltas between two runs with bootstrap intervals."""

from __future__ import annotations

import numpy as np

from animerec.data.split import SEED, Split
from animerec.evaluate.metrics import lookup_heldout, ranking_metrics


def user_metrics(
    ids: np.ndarray, split: Split, users: np.ndarray, k: int = 10, cold: np.ndarray | None = None
) -> dict[str, list]:
    """Each counted user's NDCG and HR of the lists ``ids`` (for paired deltas); with ``cold``
    (the cold-start anime), against the relevant cold ones only."""
    m = ranking_metrics(lookup_heldout(ids, split.heldout, users, relevant_items=cold), users, k)
    return {"users": m.users.tolist(), "ndcg": m.ndcg.tolist(), "hr": m.hr.tolist()}


def per_user(
    result, split: Split, users: np.ndarray, k: int = 10, cold: np.ndarray | None = None
) -> dict[str, list]:
    """:func:`user_metrics` of a result's lists (its cold-start lists with ``cold``)."""
    ids = result.recommended if cold is None else result.recommended_cold
    return user_metrics(ids, split, users, k, cold)


def paired_delta(
    a: dict, b: dict, metric: str = "ndcg", n: int = 1000, seed: int = SEED
) -> tuple[float, float, float]:
    """Mean per-user difference b − a over the users both counted, with a 95% bootstrap CI."""
    ua, ub = np.asarray(a["users"]), np.asarray(b["users"])
    common, ia, ib = np.intersect1d(ua, ub, return_indices=True)
    d = np.asarray(b[metric])[ib] - np.asarray(a[metric])[ia]
    if len(d) == 0:
        return float("nan"), float("nan"), float("nan")
    idx = np.random.default_rng(seed).integers(0, len(d), (n, len(d)))
    means = d[idx].mean(axis=1)
    return float(d.mean()), float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def pooled_delta(
    a: list[dict], b: list[dict], metric: str = "ndcg", n: int = 1000, seed: int = SEED
) -> tuple[float, float, float, int]:
    """Mean difference b − a over every (fold, user) both counted, with a 95% bootstrap CI that
    resamples users (a user's folds stay together: they share one history); and the unit count."""
    users, diffs = [], []
    for fa, fb in zip(a, b, strict=False):
        common, ia, ib = np.intersect1d(fa["users"], fb["users"], return_indices=True)
        users.append(common)
        diffs.append(np.asarray(fb[metric])[ib] - np.asarray(fa[metric])[ia])
    u, d = np.concatenate(users), np.concatenate(diffs)
    if len(d) == 0:
        return float("nan"), float("nan"), float("nan"), 0
    ids, inv = np.unique(u, return_inverse=True)
    sums, counts = np.bincount(inv, d), np.bincount(inv)
    idx = np.random.default_rng(seed).integers(0, len(ids), (n, len(ids)))
    means = sums[idx].sum(axis=1) / counts[idx].sum(axis=1)
    lo, hi = np.quantile(means, [0.025, 0.975])
    return float(d.mean()), float(lo), float(hi), len(d)
