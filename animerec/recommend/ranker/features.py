"""The ranker's candidates and their features: what each member says, and what the item is.

Why a candidate set: a learned ranker is only as good as what it may choose from, and scoring the
whole catalog with a tree ensemble costs far more than a few hundred rows per user. Each member
proposes its best unseen titles (``depths``); the union is the candidate set, and every candidate
is described by every member (its standardised score and its rank among the candidates), by the
history (how many likes and dislikes it holds), and by the item itself (raters and promoter share
in the training ratings, MAL's own score and member count from the catalog, type, year), plus how
it relates to the history (text similarity to the liked and disliked titles, liked titles of the
same franchise). Everything is computed per history, so a batch scores as its rows one by one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from animerec.data.catalog import Catalog
from animerec.data.ratings import History, Ratings
from animerec.recommend.filters import years
from animerec.recommend.franchise_order import franchises_of
from animerec.recommend.itemspace import DISLIKE_MAX

__all__ = [
    "ITEM_FEATURES",
    "TYPES",
    "Candidates",
    "ItemSide",
    "candidates",
    "feature_names",
    "smallest",
]

TYPES = ("TV", "OVA", "Movie", "Special", "ONA", "Music")
"""Type codes 0..5 (anything else: 6), a categorical feature."""
ITEM_FEATURES = ("log_raters", "promoter_share", "mal_score", "log_members", "type", "year")
HISTORY_FEATURES = ("n_likes", "n_dislikes", "n_proposers")
TEXT_FEATURES = ("text_max", "text_mean", "text_dislike_max")
FRANCHISE_FEATURES = ("franchise_liked",)
SHRINK = 10.0
"""Pseudo-raters pulling a promoter share toward the catalog-wide share (few raters → prior)."""


def _column(catalog: Catalog, name: str) -> np.ndarray:
    frame = catalog.frame
    if name not in frame:
        return np.full(len(frame), np.nan, np.float32)
    return pd.to_numeric(frame[name], errors="coerce").to_numpy(np.float64).astype(np.float32)


@dataclass(frozen=True)
class ItemSide:
    """User-independent facts per catalog position (``float32 [n, len(ITEM_FEATURES)]``), the
    franchise of every position, and the unit text vectors (None: no text features)."""

    items: np.ndarray
    franchise_of: np.ndarray
    vectors: np.ndarray | None

    @classmethod
    def of(cls, train: Ratings, catalog: Catalog, vectors: np.ndarray | None) -> ItemSide:
        pos = catalog.positions(train.anime_id)
        ok = pos >= 0
        raters = np.bincount(pos[ok], minlength=len(catalog)).astype(np.float64)
        promoters = np.bincount(pos[ok & (train.rating >= 9)], minlength=len(catalog))
        base = promoters.sum() / max(raters.sum(), 1.0)
        share = (promoters + SHRINK * base) / (raters + SHRINK)
        types = catalog.frame["type"].astype(str).to_numpy() if "type" in catalog.frame else None
        code = np.full(len(catalog), len(TYPES), np.float32)
        if types is not None:
            for i, t in enumerate(TYPES):
                code[types == t] = i
        score = _column(catalog, "score")
        members = _column(catalog, "members")
        items = np.stack(
            [
                np.log1p(raters),
                share,
                np.where(score > 0, score, np.nan),
                np.log1p(members),
                code,
                years(catalog),
            ],
            axis=1,
        ).astype(np.float32)
        franchise = franchises_of(catalog).franchise_of.astype(np.int64)
        v = None if vectors is None else np.ascontiguousarray(vectors, np.float32)
        return cls(items, franchise, v)


@dataclass(frozen=True)
class Candidates:
    """One history's candidates: catalog positions, which member proposed each first (index
    into the members, in their order), and the feature rows ``float32 [len(positions), F]``."""

    positions: np.ndarray
    proposer: np.ndarray
    features: np.ndarray


def feature_names(members: Sequence[str], text: bool) -> list[str]:
    """The columns of :func:`candidates`' features for these members (``text``: vectors given)."""
    out = [f"{m}:{what}" for m in members for what in ("z", "rank")]
    out += [*HISTORY_FEATURES, *ITEM_FEATURES, *FRANCHISE_FEATURES]
    return out + (list(TEXT_FEATURES) if text else [])


def _split(history: History, catalog: Catalog) -> tuple[np.ndarray, np.ndarray]:
    pos = catalog.positions(history.anime_ids)
    ok = pos >= 0
    liked = history.ratings[ok] > DISLIKE_MAX
    return pos[ok][liked], pos[ok][~liked]


def _float(scores: np.ndarray) -> np.ndarray:
    s = np.asarray(scores)
    return s if s.dtype.kind == "f" else s.astype(np.float64)


def smallest(neg: np.ndarray, depth: int) -> np.ndarray:
    """The finite entries among the ``depth`` smallest of ``neg`` — the very set
    ``np.argpartition(neg, d - 1)[:d]`` picks (``d``: ``depth``, at most the finite count).

    Why not that call alone: it is most of the candidates' cost (five passes over the catalog
    a request). A floor from strided chunk minima keeps a few hundred entries that must hold
    the ``depth`` smallest; partitioning those gives the same set whenever it is unique. When
    entries tie with the ``depth``-th value (argpartition's choice among them is its own) or the
    floor keeps too few finite entries, the whole row is partitioned as before."""
    m = len(neg)
    q = 4 * depth
    if depth > 0 and 2 * q <= m:
        chunk_min = neg[: q * (m // q)].reshape(m // q, q).min(axis=0)  # q strided chunks
        floor = np.partition(chunk_min, depth - 1)[depth - 1]  # NaN sorts last
        hits = np.flatnonzero(neg <= floor)  # ≥ depth entries: a chunk minimum each
        sub = neg[hits]
        if np.isfinite(sub).all() and depth <= len(hits) <= m // 8:
            part = np.argpartition(sub, depth - 1)[:depth]
            if np.count_nonzero(sub <= sub[part].max()) == depth:  # no tie at the cut
                return hits[part]
    d = min(depth, int(np.count_nonzero(np.isfinite(neg))))
    if d <= 0:
        return np.zeros(0, np.int64)
    top = np.argpartition(neg, d - 1)[:d]
    return top[np.isfinite(neg[top])]


def candidates(
    history: History,
    scores: Sequence[np.ndarray],
    depths: Sequence[int],
    side: ItemSide,
    catalog: Catalog,
) -> Candidates:
    """Candidates of ``history`` from each member's ``scores`` row (``float32 [catalog]``, in
    member order) cut at its depth, with their features (:func:`feature_names` order).

    Served once per request, so it is written for one history's cost: each member's row is
    negated once and partitioned over the whole catalog (the same ``argpartition`` call on the
    same array picks the same titles among ties), the franchise counts come from one
    ``bincount``, and the features are written straight into one ``float32`` array."""
    liked, disliked = _split(history, catalog)
    seen = np.r_[liked, disliked]
    n_items = len(catalog)
    proposer = np.full(n_items, -1, np.int64)
    n_prop = np.zeros(n_items, np.int64)
    for m in range(len(scores) - 1, -1, -1):  # the first member that proposes an item names it
        neg = np.negative(_float(scores[m]))
        neg[seen] = np.inf  # a seen title is never a candidate
        top = smallest(neg, depths[m])
        proposer[top] = m
        n_prop[top] += 1
    pos = np.flatnonzero(proposer >= 0)
    n = len(pos)
    text = side.vectors is not None
    width = 2 * len(scores) + len(HISTORY_FEATURES) + len(ITEM_FEATURES) + 1
    out = np.empty((n, width + (len(TEXT_FEATURES) if text else 0)), np.float32)
    for m, s in enumerate(scores):
        c = np.asarray(s[pos], np.float64)
        fin = np.isfinite(c)
        if fin.all():
            mean = c.mean() if n else 0.0
            std = c.std() if n > 1 else 0.0
            out[:, 2 * m] = (c - mean) / (std or 1.0)
            order = np.argsort(-c, kind="stable")
            out[order, 2 * m + 1] = np.arange(n)
            continue
        mean = c[fin].mean() if fin.any() else 0.0
        std = c[fin].std() if fin.sum() > 1 else 0.0
        out[:, 2 * m] = np.where(fin, (np.where(fin, c, 0.0) - mean) / (std or 1.0), np.nan)
        order = np.argsort(-np.where(fin, c, -np.inf), kind="stable")
        rank = np.empty(n, np.float64)
        rank[order] = np.arange(n)
        out[:, 2 * m + 1] = np.where(fin, rank, n)
    j = 2 * len(scores)
    out[:, j], out[:, j + 1], out[:, j + 2] = len(liked), len(disliked), n_prop[pos]
    j += len(HISTORY_FEATURES)
    out[:, j : j + len(ITEM_FEATURES)] = side.items[pos]
    j += len(ITEM_FEATURES)
    franchise = side.franchise_of[pos]
    counts = np.bincount(side.franchise_of[liked], minlength=int(franchise.max(initial=0)) + 1)
    out[:, j] = counts[franchise]  # 0 where no liked title shares the franchise
    if text:
        v = side.vectors[pos]
        if len(liked):
            sim = v @ side.vectors[liked].T
            out[:, j + 1], out[:, j + 2] = sim.max(axis=1), sim.mean(axis=1)
        else:
            out[:, j + 1 : j + 3] = np.nan
        out[:, j + 3] = (v @ side.vectors[disliked].T).max(axis=1) if len(disliked) else np.nan
    return Candidates(pos, proposer[pos], out)
