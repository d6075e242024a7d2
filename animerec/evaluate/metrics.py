"""Ranking metrics of DESIGN §5, computed for all users at once from a ``[n_users, k]`` id matrix.

Recommendations arrive as anime ids padded with ``-1`` (a model may return fewer than ``k``);
held-out ratings are looked up for every (user, recommended id) cell in one sorted search, so no
metric loops over users in Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from animerec.data.nps import DETRACTOR, PROMOTER, nps
from animerec.data.ratings import Ratings
from animerec.recommend.base import Recommendation
from animerec.recommend.ndcg import ndcg

RELEVANT = 9
"""A held-out rating at or above this is relevant (a promoter, in NPS terms)."""
PAD = -1

RANK_BUCKETS: tuple[tuple[str, int, int], ...] = (("0-2", 0, 3), ("3-6", 3, 7), ("7+", 7, 10**9))
"""The book's rank buckets for NPS: ranks (0-based) 0–2, 3–6 and 7 onwards."""


def nps_value(rating: np.ndarray) -> np.ndarray:
    """+1 for 9–10 (promoter), 0 for 7–8 (passive), −1 for ≤ 6 (detractor)."""
    return nps(rating)


@dataclass(frozen=True)
class Lookup:
    """The held-out rating of every recommended cell (0 where the user has none)."""

    rating: np.ndarray
    """``int8 [n_users, k]``: held-out rating of each recommended item, 0 if not held out."""
    n_relevant: np.ndarray
    """``int64 [n_users]``: the user's held-out items rated ≥ :data:`RELEVANT`."""
    valid: np.ndarray
    """``bool [n_users, k]``: the cell holds a recommendation (not padding)."""


def lookup_heldout(
    recommended: np.ndarray,
    heldout: Ratings,
    users: np.ndarray,
    relevant_items: np.ndarray | None = None,
) -> Lookup:
    """Join recommendations with held-out ratings.

    ``users[i]`` is the user of row ``i`` of ``recommended``. ``relevant_items`` (sorted anime
    ids), when given, restricts which held-out items count as relevant — used for cold-start items.
    """
    rec = np.asarray(recommended, dtype=np.int64)
    users = np.asarray(users, dtype=np.int64)
    if rec.ndim != 2 or rec.shape[0] != len(users):
        raise ValueError(f"recommended must be [n_users={len(users)}, k], got {rec.shape}")
    valid = rec != PAD
    if not np.array_equal(np.sort(users), users):
        raise ValueError("users must be sorted ascending")
    # Row of each held-out rating (-1 where its user is not evaluated).
    row = np.searchsorted(users, heldout.user_id)
    row_c = np.minimum(row, max(len(users) - 1, 0))
    known = (row < len(users)) & (users[row_c] == heldout.user_id) if len(users) else row < 0
    h_row, h_item, h_rating = row[known], heldout.anime_id[known], heldout.rating[known]
    span = int(max(h_item.max(initial=0), rec.max(initial=0))) + 1
    keys = h_row * span + h_item
    order = np.argsort(keys, kind="stable")
    keys, h_rating = keys[order], h_rating[order]
    if len(keys) and np.any(keys[1:] == keys[:-1]):
        raise ValueError("held-out ratings hold a (user, anime) pair twice")

    cell = np.arange(len(users), dtype=np.int64)[:, None] * span + np.where(valid, rec, 0)
    pos = np.searchsorted(keys, cell)
    pos_c = np.minimum(pos, max(len(keys) - 1, 0))
    hit = valid & (pos < len(keys)) & (keys[pos_c] == cell) if len(keys) else np.zeros_like(valid)
    rating = np.where(hit, h_rating[pos_c] if len(keys) else 0, 0).astype(np.int8)

    rel = h_rating >= RELEVANT
    rel_rows = h_row[order][rel]
    if relevant_items is not None:
        rel_rows = rel_rows[np.isin(h_item[order][rel], relevant_items)]
        in_items = np.isin(np.where(valid, rec, PAD), relevant_items)
        rating = np.where(in_items, rating, 0).astype(np.int8)
    n_relevant = np.bincount(rel_rows, minlength=len(users)).astype(np.int64)
    return Lookup(rating=rating, n_relevant=n_relevant, valid=valid)


@dataclass(frozen=True)
class UserMetrics:
    """Per-user ranking metrics for users with ≥ 1 relevant held-out item."""

    users: np.ndarray
    hr: np.ndarray
    recall: np.ndarray
    ndcg: np.ndarray
    hits: np.ndarray
    """Relevant recommended items per counted user."""


def ranking_metrics(lookup: Lookup, users: np.ndarray, k: int) -> UserMetrics:
    """HR@k, Recall@k = hits / min(k, #relevant) and binary NDCG@k (IDCG over min(k, #relevant))."""
    rel = lookup.rating[:, :k] >= RELEVANT
    counted = lookup.n_relevant >= 1
    n_ideal = np.minimum(lookup.n_relevant[counted], k)
    hits = rel[counted].sum(axis=1)
    return UserMetrics(
        users=np.asarray(users)[counted],
        hr=(hits > 0).astype(np.float64),
        recall=hits / n_ideal,
        ndcg=ndcg(rel, lookup.n_relevant, k),
        hits=hits.astype(np.int64),
    )


@dataclass(frozen=True)
class Nps:
    """The book's NPS pooled over recommended items the user rated in the hold-out, in [−1, 1]."""

    value: float
    """(promoters − detractors) / n; NaN when n = 0."""
    n: int
    """Recommended items with any held-out rating (the 'hits' NPS is pooled over)."""
    promoters: int
    detractors: int


def nps_pooled(rating: np.ndarray) -> Nps:
    """Pool NPS over every cell of ``rating`` (held-out ratings, 0 = not rated)."""
    r = np.asarray(rating)
    rated = r > 0
    n = int(rated.sum())
    pro = int((rated & (nps(r) == PROMOTER)).sum())
    det = int((rated & (nps(r) == DETRACTOR)).sum())
    return Nps(value=(pro - det) / n if n else float("nan"), n=n, promoters=pro, detractors=det)


def nps_user_parts(rating: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per user: (sum of NPS values, number of rated cells) — what the pooled NPS bootstrap needs."""
    r = np.asarray(rating)
    rated = r > 0
    return np.where(rated, nps_value(r), 0).sum(axis=1), rated.sum(axis=1)


def nps_by_rank_bucket(rating: np.ndarray) -> dict[str, Nps]:
    """Pooled NPS among recommended items at ranks 0–2, 3–6 and 7+ (the book's buckets)."""
    r = np.asarray(rating)
    return {name: nps_pooled(r[:, lo : min(hi, r.shape[1])]) for name, lo, hi in RANK_BUCKETS}


def coverage(recommended: np.ndarray, catalog_items: np.ndarray) -> float:
    """Share of ``catalog_items`` (the denominator, e.g. anime rated by ≥ 1 training user) recommended
    to at least one user. Recommendations outside ``catalog_items`` are not counted."""
    rec = np.unique(np.asarray(recommended)[np.asarray(recommended) != PAD])
    denom = np.unique(catalog_items)
    return float(np.isin(denom, rec).sum() / len(denom)) if len(denom) else float("nan")


def mean_popularity_rank(positions: np.ndarray, popularity: np.ndarray) -> float:
    """Mean MAL ``popularity`` rank (1 = most members) over all recommended items.

    ``positions`` are catalog positions (-1 padding); ``popularity`` is per catalog position, and
    ranks that are missing or ≤ 0 (MAL's "unranked") are skipped.
    """
    pos = np.asarray(positions)
    vals = np.asarray(popularity, dtype=np.float64)[pos[pos >= 0]]
    vals = vals[np.isfinite(vals) & (vals > 0)]
    return float(vals.mean()) if len(vals) else float("nan")


@dataclass(frozen=True)
class Ci:
    """A mean with its percentile bootstrap interval."""

    mean: float
    low: float
    high: float

    def as_dict(self) -> dict[str, float]:
        return {"mean": self.mean, "low": self.low, "high": self.high}


def _resample_index(n: int, n_resamples: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n, size=(n_resamples, n))


def bootstrap_ci(values: np.ndarray, n: int = 1000, seed: int = 42, level: float = 0.95) -> Ci:
    """Percentile bootstrap CI of the mean over users (``n`` resamples with replacement, seeded)."""
    v = np.asarray(values, dtype=np.float64)
    if len(v) == 0:
        return Ci(float("nan"), float("nan"), float("nan"))
    means = v[_resample_index(len(v), n, seed)].mean(axis=1)
    alpha = (1 - level) / 2
    low, high = np.quantile(means, [alpha, 1 - alpha])
    return Ci(float(v.mean()), float(low), float(high))


def bootstrap_ratio_ci(
    num: np.ndarray, den: np.ndarray, n: int = 1000, seed: int = 42, level: float = 0.95
) -> Ci:
    """Bootstrap CI of a pooled ratio ``Σnum / Σden`` resampling users (for the pooled NPS)."""
    a, b = np.asarray(num, np.float64), np.asarray(den, np.float64)
    if len(a) == 0 or b.sum() == 0:
        return Ci(float("nan"), float("nan"), float("nan"))
    idx = _resample_index(len(a), n, seed)
    s_den = b[idx].sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratios = a[idx].sum(axis=1) / s_den
    ratios = ratios[s_den > 0]
    alpha = (1 - level) / 2
    low, high = np.quantile(ratios, [alpha, 1 - alpha])
    return Ci(float(a.sum() / b.sum()), float(low), float(high))


def bootstrap_ratio_delta_ci(
    num_a: np.ndarray,
    den_a: np.ndarray,
    num_b: np.ndarray,
    den_b: np.ndarray,
    n: int = 1000,
    seed: int = 42,
    level: float = 0.95,
) -> Ci:
    """Paired bootstrap CI of ``Σnum_a/Σden_a − Σnum_b/Σden_b`` over the same users (one
    resample of users for both sides), e.g. the detractor rate of two models' lists."""
    arrs = [np.asarray(x, np.float64) for x in (num_a, den_a, num_b, den_b)]
    if len({len(x) for x in arrs}) != 1:
        raise ValueError("paired ratios need one value per user on both sides")
    a, da, b, db = arrs
    if len(a) == 0 or da.sum() == 0 or db.sum() == 0:
        return Ci(float("nan"), float("nan"), float("nan"))
    idx = _resample_index(len(a), n, seed)
    sa, sb = da[idx].sum(axis=1), db[idx].sum(axis=1)
    ok = (sa > 0) & (sb > 0)
    diffs = a[idx].sum(axis=1)[ok] / sa[ok] - b[idx].sum(axis=1)[ok] / sb[ok]
    alpha = (1 - level) / 2
    low, high = np.quantile(diffs, [alpha, 1 - alpha])
    return Ci(float(a.sum() / da.sum() - b.sum() / db.sum()), float(low), float(high))


# --- beyond accuracy: diversity and novelty -------------------------------------------------------
def intra_list_diversity(positions: np.ndarray, item_vectors: np.ndarray) -> float:
    """1 − mean pairwise cosine of the items in each list, averaged over lists (≥ 2 items).

    ``positions`` are catalog positions ``[n_users, k]`` (-1 padding); ``item_vectors`` rows are
    L2-normalised (zero rows count as orthogonal to everything).
    """
    pos = np.asarray(positions)
    valid = pos >= 0
    vec = item_vectors[np.where(valid, pos, 0)] * valid[..., None]
    gram = np.einsum("ukd,uld->ukl", vec, vec)
    m = valid.sum(axis=1)
    pairs = m * (m - 1)
    off_diag = gram.sum(axis=(1, 2)) - np.einsum("ukk->u", gram)
    ok = pairs > 0
    if not ok.any():
        return float("nan")
    return float(np.mean(1.0 - off_diag[ok] / pairs[ok]))


def novelty(positions: np.ndarray, item_share: np.ndarray) -> float:
    """Mean self-information −log2(popularity share) over recommended items.

    ``item_share`` (per catalog position) is the share of training users who rated the item,
    smoothed as (count + 1) / (users + 1) so never-rated items stay finite.
    """
    pos = np.asarray(positions)
    p = pos[pos >= 0]
    return float(np.mean(-np.log2(item_share[p]))) if len(p) else float("nan")


# --- one model's result ---------------------------------------------------------------------------
@dataclass
class EvalResult:
    """Everything measured for one model under the protocol (JSON-ready via :meth:`as_dict`)."""

    model: str
    params: dict
    k: int
    n_users: int
    """Test users with ≥ 1 relevant held-out item (the users ranking metrics average over)."""
    ndcg: Ci
    hr: Ci
    recall: Ci
    nps: Nps
    nps_ci: Ci
    nps_buckets: dict[str, Nps]
    coverage: float
    n_distinct: int
    mean_popularity_rank: float
    franchise_share_hits: float
    """Share of relevant hits whose title shares a franchise with the user's history."""
    franchise_share_recs: float
    n_hits: int
    fit_s: float
    recommend_s: float
    cold: dict = field(default_factory=dict)
    explore: list[dict] = field(default_factory=list)
    tuning: dict | None = None
    recommended: np.ndarray | None = field(default=None, repr=False, compare=False)
    """``int64 [n_test_users, k]`` top-k ids per test user (not written to JSON)."""
    recommended_cold: np.ndarray | None = field(default=None, repr=False, compare=False)
    """The same drawn among cold-start items only (not written to JSON)."""

    def as_dict(self) -> dict:
        def nps(x: Nps) -> dict:
            return {
                "value": x.value,
                "n": x.n,
                "promoters": x.promoters,
                "detractors": x.detractors,
            }

        return {
            "model": self.model,
            "params": self.params,
            "k": self.k,
            "n_users": self.n_users,
            "ndcg": self.ndcg.as_dict(),
            "hr": self.hr.as_dict(),
            "recall": self.recall.as_dict(),
            "nps": nps(self.nps),
            "nps_ci": self.nps_ci.as_dict(),
            "nps_buckets": {b: nps(v) for b, v in self.nps_buckets.items()},
            "coverage": self.coverage,
            "n_distinct": self.n_distinct,
            "mean_popularity_rank": self.mean_popularity_rank,
            "franchise_share_hits": self.franchise_share_hits,
            "franchise_share_recs": self.franchise_share_recs,
            "n_hits": self.n_hits,
            "fit_s": self.fit_s,
            "recommend_s": self.recommend_s,
            "cold": self.cold,
            "explore": self.explore,
            "tuning": self.tuning,
        }


def id_matrix(recommendations: Sequence[Sequence[Recommendation]], k: int) -> np.ndarray:
    """``int64 [n_users, k]`` of recommended anime ids, best first, :data:`PAD` where a list is short."""
    out = np.full((len(recommendations), k), PAD, dtype=np.int64)
    for i, recs in enumerate(recommendations):
        ids = [r.anime_id for r in recs[:k]]
        out[i, : len(ids)] = ids
    return out
