"""Exploration: re-rank a model's best candidates toward diverse and less popular titles.

A pure-exploitation list is often ten near-copies of what the user already loves (sequels of one
franchise, the same three genres, the most popular titles). ``explore`` in [0, 1] trades some
relevance for that: among each user's ``pool`` best-scored candidates, items are picked greedily
by maximal marginal relevance (Carbonell & Goldstein 1998), where an item's value is

    (1 − x) · relevance + x · (½ · novelty − ½ · max similarity to the items already picked)

with relevance the model score min-max scaled over the pool, novelty the item's MAL popularity
rank on a log scale (1 = least popular in the catalog), and similarity the cosine of the item
vectors (content embeddings when the model has them, else genre vectors). ``x = 0`` returns the
plain top k exactly. The greedy steps run over all users of a batch at once.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence

import numpy as np

from animerec.data.catalog import Catalog
from animerec.data.genres import parse_genres
from animerec.data.ratings import History
from animerec.recommend.ranking import top_k

NOVELTY_SHARE = 0.5
"""How the exploration weight splits between novelty and diversity."""
USER_BLOCK = 256
"""Users re-ranked per block (bounds the ``[users, pool, pool]`` similarity block)."""

_genre_cache: dict[int, tuple[weakref.ref, list[str], np.ndarray]] = {}


def default_pool(k: int) -> int:
    """Candidates considered per user: five lists' worth, at least 50."""
    return max(5 * k, 50)


def genre_matrix(catalog: Catalog) -> tuple[list[str], np.ndarray]:
    """(genre names, ``bool [len(catalog), n_genres]`` membership), cached per catalog object."""
    hit = _genre_cache.get(id(catalog))
    if hit is not None and hit[0]() is catalog:
        return hit[1], hit[2]
    col = catalog.frame["genres"] if "genres" in catalog.frame else [None] * len(catalog)
    lists = [parse_genres(v) for v in col]
    vocab = sorted({g for gs in lists for g in gs})
    index = {g: i for i, g in enumerate(vocab)}
    rows = np.repeat(np.arange(len(lists)), [len(gs) for gs in lists])
    cols = np.fromiter((index[g] for gs in lists for g in gs), np.int64, len(rows))
    m = np.zeros((len(catalog), max(len(vocab), 1)), bool)
    m[rows, cols] = True
    _genre_cache[id(catalog)] = (weakref.ref(catalog), vocab, m)
    weakref.finalize(catalog, _genre_cache.pop, id(catalog), None)
    return vocab, m


def genre_vectors(catalog: Catalog) -> np.ndarray:
    """Unit-length multi-hot genre vectors (zero rows for anime without genres)."""
    _, m = genre_matrix(catalog)
    v = m.astype(np.float32)
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    return v / np.where(norms == 0, 1, norms)


def novelty(catalog: Catalog, popularity: np.ndarray | None = None) -> np.ndarray:
    """``float32 [len(catalog)]`` in [0, 1]: log popularity rank over the catalog's worst rank.

    ``popularity`` is MAL's rank (1 = most members); missing or 0 ranks count as least popular.
    """
    if popularity is None:
        if "popularity" not in catalog.frame:
            return np.zeros(len(catalog), np.float32)
        popularity = catalog.frame["popularity"].to_numpy(dtype=np.float64, na_value=np.nan)
    p = np.asarray(popularity, dtype=np.float64)
    ok = np.isfinite(p) & (p > 0)
    worst = p[ok].max() if ok.any() else 1.0
    p = np.where(ok, p, worst)
    return (np.log(p) / np.log(worst) if worst > 1 else np.zeros_like(p)).astype(np.float32)


def rerank(
    scores: np.ndarray,
    k: int,
    *,
    explore: float,
    catalog: Catalog,
    vectors: np.ndarray | None = None,
    popularity: np.ndarray | None = None,
    pool: int | None = None,
) -> np.ndarray:
    """Catalog positions ``int64 [n_users, k]``, best first, re-ranked for exploration.

    Only the ``pool`` best-scored items of each user are candidates, so the list stays
    relevant. ``-inf`` scores are never picked ahead of a finite one (they fill the tail of a
    list that has fewer than ``k`` finite candidates, as :func:`~animerec.recommend.base.top_k`
    does). ``explore = 0`` gives exactly ``top_k(scores, k)``.
    """
    if not 0.0 <= explore <= 1.0:
        raise ValueError(f"explore must be in [0, 1], got {explore}")
    scores = np.asarray(scores, dtype=np.float32)
    n, m = scores.shape
    k = min(k, m)
    if explore == 0 or n == 0 or k == 0:
        return top_k(scores, k)
    vecs = genre_vectors(catalog) if vectors is None else np.asarray(vectors, np.float32)
    if len(vecs) != m:
        raise ValueError(f"vectors has {len(vecs)} rows, scores {m} columns")
    nov = novelty(catalog, popularity)
    size = min(m, max(k, pool if pool is not None else default_pool(k)))
    out = np.empty((n, k), np.int64)
    for s in range(0, n, USER_BLOCK):
        out[s : s + USER_BLOCK] = _mmr(scores[s : s + USER_BLOCK], k, size, explore, vecs, nov)
    return out


def _mmr(
    scores: np.ndarray, k: int, size: int, x: float, vecs: np.ndarray, nov: np.ndarray
) -> np.ndarray:
    cand = top_k(scores, size)  # [n, P], best first
    s = np.take_along_axis(scores, cand, axis=1)
    valid = np.isfinite(s)
    lo = np.where(valid, s, np.inf).min(axis=1, keepdims=True)
    hi = np.where(valid, s, -np.inf).max(axis=1, keepdims=True)
    span = np.where(hi > lo, hi - lo, 1.0)
    rel = np.where(valid, (s - np.where(np.isfinite(lo), lo, 0)) / span, 0.0)
    rel = np.where(valid & (hi <= lo), 1.0, rel)  # one distinct score: all equally relevant

    v = vecs[cand]  # [n, P, d]
    sims = np.einsum("npd,nqd->npq", v, v, optimize=True)
    gain = (1 - x) * rel + x * NOVELTY_SHARE * nov[cand]
    penalty = x * (1 - NOVELTY_SHARE)
    max_sim = np.zeros_like(rel)
    # Invalid candidates rank below every valid one but above already-picked ones.
    floor = np.where(valid, 0.0, -1e9)
    picked = np.zeros(cand.shape, bool)
    rows = np.arange(len(cand))
    out = np.empty((len(cand), k), np.int64)
    for t in range(k):
        value = gain - penalty * max_sim + floor
        value[picked] = -np.inf
        j = np.argmax(value, axis=1)
        out[:, t] = cand[rows, j]
        picked[rows, j] = True
        max_sim = np.maximum(max_sim, sims[rows, j])
    return out


def new_genres(history: History, positions: np.ndarray, catalog: Catalog) -> list[list[str]]:
    """For each recommended catalog position, its genres that no anime in ``history`` has."""
    vocab, m = genre_matrix(catalog)
    hist = catalog.positions(history.anime_ids)
    seen = m[hist[hist >= 0]].any(axis=0)
    fresh = m[np.asarray(positions, np.int64)] & ~seen
    return [[vocab[g] for g in np.flatnonzero(row)] for row in fresh]


def explored_reasons(
    history: History,
    positions: np.ndarray,
    plain: np.ndarray,
    reasons: Sequence[str],
    catalog: Catalog,
) -> list[str]:
    """Reasons for an explored list: items that exploration brought in (not among the ``plain``
    top-k positions) and that carry a genre new to the user say so ("new to you: Mecha")."""
    plain_set = set(np.asarray(plain).tolist())
    fresh = new_genres(history, positions, catalog)
    out = []
    for pos, why, genres in zip(np.asarray(positions).tolist(), reasons, fresh, strict=True):
        if pos not in plain_set and genres:
            out.append(f"new to you: {', '.join(genres[:2])} — {why}")
        else:
            out.append(why)
    return out
