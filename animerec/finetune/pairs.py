"""Training pairs for fine-tuning: which anime descriptions the encoder should pull together.

Every recipe reads the ratings of the *given users only* (the protocol's training users, or every
user for production models), so evaluation users can never shape what the encoder learns.

Recipes (:data:`RECIPES`):

``book``
    The book's agreement labels (DESIGN §4, :func:`animerec.labels.pair_labels`): pairs with
    ``score ≥ threshold`` are positives, ``score ≤ -threshold`` negatives, balanced to equal
    numbers by default. These labels mostly say "acclaimed ≈ acclaimed" (14.5 k positives vs
    0.5 k negatives over ~700 popular anime on the sample), which is why they transfer poorly.
``jaccard`` / ``lift``
    Popularity-corrected co-liking: each anchor's top partners by the Jaccard index of the two
    sets of fans (users rating ≥ ``min_rating``), or by shrunk lift ``c·N / (n_a·n_b)`` weighted by
    ``c / (c + shrink)``, which favours pairs liked together more than their popularity predicts.
``ease``
    A collaborative teacher: each anchor's top neighbours in the item-item weights of EASE fitted
    on the same users — distilling collaborative neighbourhoods into the text encoder, which is
    what items without ratings (cold start) need.

A recipe yields positive pairs (target 1) and, for the pair losses, negatives: the book's detracted
pairs (target ``negative_target``) or, for the neighbour recipes, random pairs (target 0). For
MultipleNegativesRankingLoss each positive may carry a *hard negative*: a detracted partner of the
anchor (``detracted``), an anime the base encoder finds close to the anchor whose fans do not
co-like it (``mined``), or an anime few of the users rated (``rare``: teaches what a niche title
reads like, which items nobody has rated yet need).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from animerec.data.catalog import Catalog
from animerec.data.ratings import Ratings
from animerec.errors import AnimerecError
from animerec.finetune.settings import PairSettings
from animerec.labels import LabelSettings, pair_labels
from animerec.recommend.ease import EASE

NO_ANIME = -1

__all__ = [
    "NO_ANIME",
    "TrainingPairs",
    "add_detracted_negatives",
    "add_mined_negatives",
    "book_pairs",
    "build_pairs",
    "cap_pairs",
    "cooccurrence_scores",
    "detracted_partners",
    "ease_scores",
    "neighbour_pairs",
    "random_negatives",
    "similarity",
    "top_neighbours",
]


@dataclass
class TrainingPairs:
    """Rows of (anchor, other, target) anime ids; ``negative`` is a hard negative per row (or -1).

    Positives have ``target > 0``. ``rank`` is the partner's neighbour rank (0 = nearest; 0 for
    labelled pairs), used to keep the best pairs first when the count is capped.
    """

    anchor: np.ndarray
    other: np.ndarray
    target: np.ndarray
    negative: np.ndarray
    rank: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.anchor)

    @property
    def positive(self) -> np.ndarray:
        return self.target > 0

    def take(self, idx: np.ndarray) -> TrainingPairs:
        return TrainingPairs(
            self.anchor[idx], self.other[idx], self.target[idx], self.negative[idx],
            self.rank[idx], dict(self.info),
        )  # fmt: skip

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "anchor": self.anchor,
                "other": self.other,
                "target": self.target,
                "negative": self.negative,
                "rank": self.rank,
            }
        )

    def anime(self) -> np.ndarray:
        """Every anime id the rows mention (anchors, partners and hard negatives)."""
        ids = np.concatenate([self.anchor, self.other, self.negative])
        return np.unique(ids[ids != NO_ANIME])

    def summary(self) -> dict[str, Any]:
        pos = self.positive
        return {
            "rows": len(self),
            "positive": int(pos.sum()),
            "negative": int((~pos).sum()),
            "with_hard_negative": int((self.negative != NO_ANIME).sum()),
            "anime": len(self.anime()),
            "anime_in_positives": len(np.union1d(self.anchor[pos], self.other[pos])),
            **self.info,
        }


def _rows(
    anchor: np.ndarray, other: np.ndarray, target: np.ndarray, rank: np.ndarray | None = None
) -> TrainingPairs:
    n = len(anchor)
    return TrainingPairs(
        np.asarray(anchor, np.int64),
        np.asarray(other, np.int64),
        np.asarray(target, np.float32),
        np.full(n, NO_ANIME, np.int64),
        np.zeros(n, np.int64) if rank is None else np.asarray(rank, np.int64),
    )


def _concat(parts: list[TrainingPairs]) -> TrainingPairs:
    return TrainingPairs(
        *(np.concatenate([getattr(p, f) for p in parts]) for f in
          ("anchor", "other", "target", "negative", "rank")),
        info=dict(parts[0].info) if parts else {},
    )  # fmt: skip


# --- the users' likes -----------------------------------------------------------------------------
def _user_ratings(ratings: Ratings, users: np.ndarray) -> Ratings:
    users = np.unique(np.asarray(users, dtype=np.int64))
    r = ratings.take(np.isin(ratings.user_id, users))
    if len(r) == 0:
        raise AnimerecError("none of the given users has ratings: no training pairs")
    return r


def _raters(r: Ratings) -> tuple[np.ndarray, np.ndarray]:
    """(anime ids, number of raters) among ``r``."""
    return np.unique(r.anime_id, return_counts=True)


def _anchor_ids(r: Ratings, min_raters: int) -> np.ndarray:
    ids, n = _raters(r)
    return ids[n >= min_raters]


# --- book ----------------------------------------------------------------------------------------
def book_pairs(
    ratings: Ratings, users: np.ndarray, s: PairSettings, balance: bool | None = None
) -> TrainingPairs:
    """The book's labelled pairs of the ``train`` label split (``val`` is kept for evaluation).

    ``balance`` (default ``s.balance``) keeps as many positives as negatives.
    """
    labels = pair_labels(ratings, users, LabelSettings(s.min_corated, s.threshold, seed=s.seed))
    train = labels[(labels["split"] == "train") & (labels["label"] != 0)]
    pos = train[train["label"] > 0]
    neg = train[train["label"] < 0]
    rng = np.random.default_rng([s.seed, 1])
    if s.balance if balance is None else balance:
        n = min(len(pos), len(neg))
        pos = pos.iloc[np.sort(rng.choice(len(pos), n, replace=False))]
        neg = neg.iloc[np.sort(rng.choice(len(neg), n, replace=False))]
    out = _concat(
        [
            _rows(pos["anime_a"].to_numpy(), pos["anime_b"].to_numpy(), np.ones(len(pos))),
            _rows(neg["anime_a"].to_numpy(), neg["anime_b"].to_numpy(),
                  np.full(len(neg), s.negative_target)),
        ]
    )  # fmt: skip
    out.info.update(labelled_pairs=len(train), labelled_positive=int((train["label"] > 0).sum()))
    return out


def detracted_partners(
    ratings: Ratings, users: np.ndarray, s: PairSettings
) -> dict[int, np.ndarray]:
    """Anime → the anime its fans detract (label −1 pairs of the train label split), both ways."""
    labels = pair_labels(ratings, users, LabelSettings(s.min_corated, s.threshold, seed=s.seed))
    neg = labels[(labels["split"] == "train") & (labels["label"] < 0)]
    a = np.concatenate([neg["anime_a"].to_numpy(), neg["anime_b"].to_numpy()])
    b = np.concatenate([neg["anime_b"].to_numpy(), neg["anime_a"].to_numpy()])
    order = np.lexsort((b, a))
    a, b = a[order], b[order]
    keys, starts = np.unique(a, return_index=True)
    return {int(k): v for k, v in zip(keys, np.split(b, starts[1:]), strict=True)}


# --- neighbour recipes ----------------------------------------------------------------------------
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
    r = _user_ratings(ratings, users)
    items, sim = scores if scores is not None else similarity(r, s)
    anchors = np.intersect1d(_anchor_ids(r, s.min_raters), items)
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
    out = _rows(a[keep], b[keep], np.ones(len(keep)), rank[keep])
    out.info.update(anchors=len(anchors), candidates=len(items), raw_pairs=len(a))
    return out


def random_negatives(
    pairs: TrainingPairs, pool: np.ndarray, per_positive: float, seed: int
) -> TrainingPairs:
    """Random (anchor, other) pairs with target 0 for the pair losses; never a known positive."""
    n = int(round(per_positive * int(pairs.positive.sum())))
    if n == 0 or len(pool) < 2:
        return _rows(np.zeros(0), np.zeros(0), np.zeros(0))
    rng = np.random.default_rng([seed, 2])
    known = set(zip(pairs.anchor.tolist(), pairs.other.tolist(), strict=True))
    known |= {(b, a) for a, b in known}
    a_out, b_out = [], []
    while len(a_out) < n:
        a = rng.choice(pool, 2 * (n - len(a_out)))
        b = rng.choice(pool, len(a))
        for x, y in zip(a.tolist(), b.tolist(), strict=True):
            if x != y and (x, y) not in known:
                a_out.append(x)
                b_out.append(y)
                known |= {(x, y), (y, x)}
                if len(a_out) == n:
                    break
    return _rows(np.asarray(a_out), np.asarray(b_out), np.zeros(n), np.full(n, 10**6))


# --- hard negatives -------------------------------------------------------------------------------
def add_detracted_negatives(
    pairs: TrainingPairs, partners: dict[int, np.ndarray], pool: np.ndarray, seed: int
) -> TrainingPairs:
    """Give each positive a detracted partner of its anchor (else of its other end, else a
    random anime of ``pool``) as its hard negative."""
    rng = np.random.default_rng([seed, 3])
    neg = pairs.negative.copy()
    for i in np.flatnonzero(pairs.positive):
        a, b = int(pairs.anchor[i]), int(pairs.other[i])
        cands = partners.get(a)
        if cands is None:
            cands = partners.get(b)
        if cands is not None:
            cands = cands[(cands != a) & (cands != b)]
        if cands is None or len(cands) == 0:
            cands = pool[(pool != a) & (pool != b)]
        neg[i] = cands[rng.integers(len(cands))]
    out = pairs.take(np.arange(len(pairs)))
    out.negative = neg
    return out


def add_mined_negatives(
    pairs: TrainingPairs,
    vectors: tuple[np.ndarray, np.ndarray],
    teacher_positive: set[tuple[int, int]],
    pool_size: int,
    seed: int,
) -> TrainingPairs:
    """Hard negatives the base encoder gets wrong: among the ``pool_size`` anime nearest to the
    anchor by the base embeddings, one whose pair with the anchor is not in ``teacher_positive``.

    ``vectors`` is ``(anime ids, unit vectors)`` of the candidate anime — the whole catalog, so
    the obscure near-twins of a popular anchor (specials, recaps, look-alikes nobody rated)
    become its negatives.
    """
    ids = np.asarray(vectors[0], np.int64)
    vec = vectors[1]
    order = np.argsort(ids)
    ids, vec = ids[order], np.asarray(vec, np.float32)[order]
    rng = np.random.default_rng([seed, 4])
    neg = pairs.negative.copy()
    pos_rows = np.flatnonzero(pairs.positive)
    anchors = np.unique(pairs.anchor[pos_rows])
    at = np.searchsorted(ids, anchors)
    known = (at < len(ids)) & (ids[np.minimum(at, len(ids) - 1)] == anchors)
    pool: dict[int, np.ndarray] = {}
    k = min(pool_size + 1, len(ids))
    for s0 in range(0, int(known.sum()), 1024):
        a_ids = anchors[known][s0 : s0 + 1024]
        sims = vec[at[known][s0 : s0 + 1024]] @ vec.T
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        for a, row in zip(a_ids.tolist(), top, strict=True):
            pool[a] = ids[row]
    for i in pos_rows:
        a, b = int(pairs.anchor[i]), int(pairs.other[i])
        cands = pool.get(a)
        if cands is None:
            continue
        cands = [
            c for c in cands.tolist()
            if c not in (a, b) and (a, c) not in teacher_positive and (c, a) not in teacher_positive
        ]  # fmt: skip
        if cands:
            neg[i] = cands[rng.integers(len(cands))]
    out = pairs.take(np.arange(len(pairs)))
    out.negative = neg
    return out


# --- the entry point ------------------------------------------------------------------------------
def build_pairs(
    ratings: Ratings,
    users: np.ndarray,
    settings: PairSettings | None = None,
    *,
    for_loss: str = "mnrl",
    base_vectors: tuple[np.ndarray, np.ndarray]
    | Callable[[], tuple[np.ndarray, np.ndarray]]
    | None = None,
) -> TrainingPairs:
    """Training rows for ``for_loss`` from the ratings of ``users`` only.

    ``mnrl`` keeps positives (with hard negatives if asked); ``cosine``/``cosent`` also keep
    negatives (the book's detracted pairs, or random pairs for the neighbour recipes).
    ``base_vectors`` — ``(anime ids, unit vectors)`` of the base encoder over the anime negatives
    may be drawn from (the catalog), or a function returning them — is needed for
    ``hard_negatives="mined"``.
    """
    s = settings or PairSettings()
    users = np.unique(np.asarray(users, dtype=np.int64))
    r = _user_ratings(ratings, users)
    if s.recipe == "book":
        # MNRL learns from positives only: balancing would throw most of them away.
        pairs = book_pairs(r, users, s, balance=s.balance and for_loss != "mnrl")
    else:
        scores = similarity(r, s)
        pairs = neighbour_pairs(r, users, s, scores)
        if for_loss != "mnrl":
            pool = np.union1d(pairs.anchor, pairs.other)
            pairs = _concat([pairs, random_negatives(pairs, pool, s.random_negatives, s.seed)])
    if for_loss == "mnrl":
        pairs = pairs.take(np.flatnonzero(pairs.positive))
        if s.hard_negatives == "detracted":
            partners = detracted_partners(r, users, s)
            pool = np.union1d(pairs.anchor, pairs.other)
            pairs = add_detracted_negatives(pairs, partners, pool, s.seed)
        elif s.hard_negatives == "mined":
            if base_vectors is None:
                raise AnimerecError("hard_negatives='mined' needs the base encoder's vectors")
            vectors = base_vectors() if callable(base_vectors) else base_vectors
            known = set(zip(pairs.anchor.tolist(), pairs.other.tolist(), strict=True))
            if s.recipe != "book":  # the teacher's wider neighbourhood is not a negative either
                a, b, _ = top_neighbours(*scores, np.unique(pairs.anchor), s.mined_exclude)
                known |= set(zip(a.tolist(), b.tolist(), strict=True))
            pairs = add_mined_negatives(pairs, vectors, known, s.mined_pool, s.seed)
        elif s.hard_negatives == "rare":
            ids, counts = _raters(r)
            pool = ids[counts <= s.rare_max_raters]
            if len(pool) == 0:
                raise AnimerecError(
                    f"hard_negatives='rare': no anime has 1 to {s.rare_max_raters} raters "
                    "among these users (a catalog without a long tail); choose another kind "
                    "of hard negative (--hard-negatives none)"
                )
            pairs = add_detracted_negatives(pairs, {}, pool, s.seed)  # a random one of the pool
    if len(pairs) == 0:
        raise AnimerecError(f"recipe {s.recipe!r} gave no training pairs for loss {for_loss!r}")
    pairs = cap_pairs(pairs, s.max_pairs, s.seed)
    pairs.info.update(recipe=s.recipe, users=len(users), settings=asdict(s))
    return pairs


def cap_pairs(pairs: TrainingPairs, max_pairs: int | None, seed: int) -> TrainingPairs:
    """At most ``max_pairs`` rows, best neighbour ranks first, ties in seeded random order; the
    positive/negative mix is kept."""
    if max_pairs is None or len(pairs) <= max_pairs:
        return pairs
    rng = np.random.default_rng([seed, 5])
    pos = pairs.positive
    n_pos = int(round(max_pairs * pos.mean()))
    keep = []
    for mask, n in ((pos, n_pos), (~pos, max_pairs - n_pos)):
        idx = np.flatnonzero(mask)
        order = np.lexsort((rng.random(len(idx)), pairs.rank[idx]))
        keep.append(idx[order[:n]])
    return pairs.take(np.sort(np.concatenate(keep)))
