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

__all__ = ["ITEM_FEATURES", "TYPES", "Candidates", "ItemSide", "candidates", "feature_names"]

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


def candidates(
    history: History,
    scores: Sequence[np.ndarray],
    depths: Sequence[int],
    side: ItemSide,
    catalog: Catalog,
) -> Candidates:
    """Candidates of ``history`` from each member's ``scores`` row (``float32 [catalog]``, in
    member order) cut at its depth, with their features (:func:`feature_names` order)."""
    liked, disliked = _split(history, catalog)
    seen = np.zeros(len(catalog), bool)
    seen[np.r_[liked, disliked]] = True
    proposer = np.full(len(catalog), -1, np.int64)
    n_prop = np.zeros(len(catalog), np.int64)
    for m in range(len(scores) - 1, -1, -1):  # the first member that proposes an item names it
        s = np.where(seen, -np.inf, scores[m])
        d = min(depths[m], int(np.isfinite(s).sum()))
        if d <= 0:
            continue
        top = np.argpartition(-s, d - 1)[:d]
        top = top[np.isfinite(s[top])]
        proposer[top] = m
        n_prop[top] += 1
    pos = np.flatnonzero(proposer >= 0)
    cols = []
    for s in scores:
        c = np.asarray(s[pos], np.float64)
        fin = np.isfinite(c)
        mean = c[fin].mean() if fin.any() else 0.0
        std = c[fin].std() if fin.sum() > 1 else 0.0
        z = np.where(fin, (np.where(fin, c, 0.0) - mean) / (std or 1.0), np.nan)
        order = np.argsort(-np.where(fin, c, -np.inf), kind="stable")
        rank = np.empty(len(pos), np.float64)
        rank[order] = np.arange(len(pos))
        cols += [z, np.where(fin, rank, len(pos))]
    n = len(pos)
    cols += [np.full(n, len(liked)), np.full(n, len(disliked)), n_prop[pos]]
    cols += list(side.items[pos].T)
    same = np.isin(side.franchise_of[pos], side.franchise_of[liked])
    if same.any():
        counts = np.bincount(side.franchise_of[liked], minlength=int(side.franchise_of.max()) + 1)
        cols.append(counts[side.franchise_of[pos]])
    else:
        cols.append(np.zeros(n))
    if side.vectors is not None:
        v = side.vectors[pos]
        if len(liked):
            sim = v @ side.vectors[liked].T
            cols += [sim.max(axis=1), sim.mean(axis=1)]
        else:
            cols += [np.full(n, np.nan), np.full(n, np.nan)]
        cols.append(
            (v @ side.vectors[disliked].T).max(axis=1) if len(disliked) else np.full(n, np.nan)
        )
    features = np.stack(cols, axis=1).astype(np.float32) if n else np.zeros((0, len(cols)))
    return Candidates(pos, proposer[pos], features.astype(np.float32))
