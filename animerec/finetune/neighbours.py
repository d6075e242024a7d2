"""Neighbour recipes (``jaccard``, ``lift``, ``ease``): each anchor's top partners by a similarity of
their fan sets, or by the item-item weights of an EASE teacher fitted on the same users."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from animerec.data.catalog import Catalog
from animerec.data.ratings import Ratings
from animerec.errors import AnimerecError
from animerec.finetune.settings import PairSettings
from animerec.finetune.training_pairs import TrainingPairs, anchor_ids, pair_rows, users_ratings
from animerec.recommend.ease import EASE

__all__ = [
    "cooccurrence_scores",
    "ease_scores",
    "neighbour_pairs",
    "similarity",
    "top_neighbours",
]


def _likes_matrix(r: Ratings, s: PairSettings) -> tuple[sp.csr_matrix, np.ndarray]:
    """Users × candidate anime 0/1 likes; candidates have ≥ ``min_partner_raters`` likes."""
    liked = r.take(r.rating >= s.min_rating)
    ids, n = np.unique(liked.anime_id, return_counts=True)
    items = ids[n >= s.min_partner_raters]
    x, _ = liked.matrix(items, values=np.ones(len(liked), np.float32))
    return x.sign().tocsr(), items


def cooccurrence_scores(r: Ratings, s: PairSettings) -> tuple[np.ndarray, np.ndarray]:
    """``(item ids, dense [n, n] similarity)`` by Jaccard or shrunk lift of the fan sets."""
    x, items = _likes_matrix(r, s)
    c = (x.T @ x).toarray().astype(np.float64)
    n_i = np.diag(c).copy()
    if s.recipe == "jaccard":
        union = n_i[:, None] + n_i[None, :] - c
        sim = np.divide(c, union, out=np.zeros_like(c), where=union > 0)
    else:  # lift, shrunk towards 0 when few fans are shared
        n_users = x.shape[0]
        expected = np.outer(n_i, n_i) / max(n_users, 1)
        lift = np.divide(c, expected, out=np.zeros_like(c), where=expected > 0)
        sim = np.log1p(lift) * c / (c + s.shrink)
    np.fill_diagonal(sim, -np.inf)
    sim[c == 0] = -np.inf  # never co-liked: not a neighbour
    return items, sim


def ease_scores(r: Ratings, s: PairSettings) -> tuple[np.ndarray, np.ndarray]:
    """``(item ids, B)`` of EASE fitted on the users' likes: ``B[i, j]`` = how much liking ``i``
    raises the score of ``j``."""
    ids = np.unique(r.anime_id)
    catalog = Catalog(pd.DataFrame({"anime_id": ids, "name": ids.astype(str)}))
    model = EASE(
        EASE.Params(
            l2=s.ease_l2,
            min_rating=s.min_rating,
            graded=s.ease_graded,
            min_item_raters=s.min_partner_raters,
        )
    ).fit(r, catalog)
    B = model.B.astype(np.float64)
    sim = B.copy()
    np.fill_diagonal(sim, -np.inf)
    return model.space.item_ids, sim


def similarity(r: Ratings, s: PairSettings) -> tuple[np.ndarray, np.ndarray]:
    """``(item ids, dense similarity)`` of the neighbour recipe ``s.recipe``."""
    return ease_scores(r, s) if s.recipe == "ease" else cooccurrence_scores(r, s)


def top_neighbours(
    items: np.ndarray, sim: np.ndarray, anchors: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(anchor, partner, rank)`` of each anchor's ``k`` most similar items with a positive,
    finite similarity, best first (ties by item order)."""
    rows = np.searchsorted(items, anchors)
    k = min(k, len(items) - 1)
    if len(anchors) == 0 or k < 1:
        z = np.zeros(0, np.int64)
        return z, z, z
    block = sim[rows]
    top = np.argpartition(-block, k - 1, axis=1)[:, :k]
    top_scores = np.take_along_axis(block, top, axis=1)
    order = np.lexsort((top, -top_scores), axis=1)
    top = np.take_along_axis(top, order, axis=1)
    top_scores = np.take_along_axis(top_scores, order, axis=1)
    ok = np.isfinite(top_scores.ravel()) & (top_scores.ravel() > 0)
    a = np.repeat(anchors, k)[ok]
    b = items[top.ravel()][ok]
    rank = np.tile(np.arange(k), len(anchors))[ok]
    return a, b, rank


def neighbour_pairs(
    ratings: Ratings,
    users: np.ndarray,
    s: PairSettings,
    scores: tuple[np.ndarray, np.ndarray] | None = None,
) -> TrainingPairs:
    """Each anchor's top-``neighbours`` partners by the recipe's similarity, deduplicated
    (a pair found from both ends is kept once, at its better rank). ``scores`` reuses a
    :func:`similarity` already computed for these users."""
    r = users_ratings(ratings, users)
    items, sim = scores if scores is not None else similarity(r, s)
    anchors = np.intersect1d(anchor_ids(r, s.min_raters), items)
    a, b, rank = top_neighbours(items, sim, anchors, s.neighbours)
    if len(a) == 0:
        raise AnimerecError(
            f"recipe {s.recipe!r}: no anchors (anime with ≥ {s.min_raters} raters and ≥ "
            f"{s.min_partner_raters} likes) with neighbours among the given users"
        )
    # One row per unordered pair, at its best rank; the anchor is the end that chose it.
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    order = np.lexsort((a, rank, hi, lo))
    lo_s, hi_s = lo[order], hi[order]
    first = np.ones(len(order), bool)
    first[1:] = (lo_s[1:] != lo_s[:-1]) | (hi_s[1:] != hi_s[:-1])
    keep = order[first]
    out = pair_rows(a[keep], b[keep], np.ones(len(keep)), rank[keep])
    out.info.update(anchors=len(anchors), candidates=len(items), raw_pairs=len(a))
    return out
