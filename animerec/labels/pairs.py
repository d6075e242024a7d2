"""Pair labels: which anime the same fans promote together (DESIGN §4), for every pair at once.

The book scores one sampled pair per full scan of the ratings. Here every pair comes out of one
sparse product per block of anime, so the full MAL file (57 M ratings) needs no per-pair work;
:func:`iter_pair_labels` yields the table block by block, so a writer's memory is bounded by the
block, not by the number of pairs (:func:`pair_labels` gathers them all, for small data and tests).

Definitions (a *co-rater* of a pair is a given user who rated both anime with a non-zero NPS, i.e.
promoted (9–10) or detracted (≤ 6) each of them; passives (7–8) are dropped first, as in the book):

- ``agree`` = share of co-raters who promoted both;
- ``disagree`` = share of co-raters who promoted one and detracted the other
  (co-raters who detracted both count in the denominator only);
- ``score`` = ``agree`` if ``agree > disagree`` else ``-disagree``;
- ``jaccard`` = |promoters of a ∩ promoters of b| / |promoters of a ∪ promoters of b|, over all
  given users.

Only pairs with at least ``min_corated`` co-raters are kept. The counts are exact integers, so the
shares equal a per-pair computation bit for bit.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd
import scipy.sparse as sp
from tqdm.auto import tqdm

from animerec.data.nps import DETRACTOR, PASSIVE, PROMOTER, nps
from animerec.data.ratings import Ratings

__all__ = [
    "COLUMNS",
    "DETRACTOR",
    "MAX_USERS",
    "PASSIVE",
    "PROMOTER",
    "SPLITS",
    "LabelSettings",
    "PairCounts",
    "iter_pair_counts",
    "iter_pair_labels",
    "labels_frame",
    "nps",
    "nps_matrices",
    "pair_counts",
    "pair_labels",
    "scores",
    "split_pairs",
]

# One sparse product yields three counts at once: a promoter enters as 1 and a detractor as
# 2**20, so a pair's dot product is  n_agree + 2**20 · n_disagree + 2**40 · n_both_detract,
# and each count is read back from its own 20 bits (exact in int64 while counts < 2**20).
_SHIFT = 20
_BASE = 1 << _SHIFT
_MASK = _BASE - 1
MAX_USERS = _MASK

SPLITS = ["train", "val"]
COLUMNS = [
    "anime_a",
    "anime_b",
    "n_corated",
    "n_agree",
    "n_disagree",
    "agree",
    "disagree",
    "score",
    "jaccard",
    "label",
    "split",
]


@dataclass(frozen=True)
class LabelSettings:
    """How pairs become labels (the book's values by default)."""

    min_corated: int = 20
    """Fewest co-raters (users who rated both with a non-zero NPS) a pair needs to be kept."""
    threshold: float = 0.7
    """``score ≥ threshold`` → label +1, ``score ≤ -threshold`` → -1, otherwise 0."""
    val_frac: float = 0.1
    """Expected share of pairs put in the validation split."""
    seed: int = 42

    def __post_init__(self) -> None:
        if self.min_corated < 1:
            raise ValueError(f"min_corated must be ≥ 1, got {self.min_corated}")
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {self.threshold}")
        if not 0.0 <= self.val_frac < 1.0:
            raise ValueError(f"val_frac must be in [0, 1), got {self.val_frac}")


def nps_matrices(
    ratings: Ratings, users: np.ndarray, item_ids: np.ndarray | None = None
) -> tuple[sp.csr_matrix, sp.csr_matrix, np.ndarray]:
    """Promoter and detractor 0/1 matrices (users × items, CSR, int64) of the given users.

    Returns ``(P, D, item_ids)``; ``item_ids`` defaults to every anime the users rated.
    """
    users = np.unique(np.asarray(users, dtype=np.int64))
    r = ratings.take(np.isin(ratings.user_id, users))
    items = np.unique(r.anime_id) if item_ids is None else np.asarray(item_ids, dtype=np.int64)
    s = nps(r.rating)
    out = []
    for flag in (PROMOTER, DETRACTOR):
        keep = s == flag
        m, _ = r.take(keep).matrix(items, user_ids=users)
        out.append(m.astype(np.int64).sign())
    return out[0], out[1], items


@dataclass(frozen=True)
class PairCounts:
    """Exact counts for kept pairs (``anime_a < anime_b``), sorted by ``(anime_a, anime_b)``."""

    anime_a: np.ndarray
    anime_b: np.ndarray
    n_corated: np.ndarray
    n_agree: np.ndarray
    n_disagree: np.ndarray
    n_promoters_a: np.ndarray
    """Promoters of ``anime_a`` among all given users (co-raters or not)."""
    n_promoters_b: np.ndarray

    def __len__(self) -> int:
        return len(self.anime_a)

    @classmethod
    def concat(cls, parts: list[PairCounts]) -> PairCounts:
        names = [f.name for f in fields(cls)]
        if not parts:
            return cls(*(np.zeros(0, np.int64) for _ in names))
        return cls(*(np.concatenate([getattr(p, n) for p in parts]) for n in names))


def iter_pair_counts(
    ratings: Ratings,
    users: np.ndarray,
    min_corated: int = 20,
    *,
    block_size: int = 256,
    progress: bool = False,
) -> Iterator[PairCounts]:
    """Counts of every pair with ≥ ``min_corated`` co-raters, one block of ``anime_a`` at a time.

    Only anime with ≥ ``min_corated`` non-zero-NPS raters can have such a pair, so only they enter
    the product. Each block multiplies its ``block_size`` anime by the anime after them (upper
    triangle only) and keeps only the surviving pairs, so peak memory is about
    ``n_anime × block_size`` counts plus the block's output, whatever the data. Blocks come in
    ``(anime_a, anime_b)`` order: concatenated, they are sorted.
    """
    if min_corated < 1:
        raise ValueError(f"min_corated must be ≥ 1, got {min_corated}")
    if block_size < 1:
        raise ValueError(f"block_size must be ≥ 1, got {block_size}")
    users = np.unique(np.asarray(users, dtype=np.int64))
    if len(users) > MAX_USERS:
        raise ValueError(f"pair counts support at most {MAX_USERS:,} users, got {len(users):,}")
    r = ratings.take(np.isin(ratings.user_id, users))
    s = nps(r.rating)
    polar = s != PASSIVE
    items, n_polar = np.unique(r.anime_id[polar], return_counts=True)
    items = items[n_polar >= min_corated]
    if len(items) == 0:
        return
    # Promoters per candidate anime, over all given users (the Jaccard denominators).
    promoted = r.anime_id[s == PROMOTER]
    idx = np.minimum(np.searchsorted(items, promoted), len(items) - 1)
    n_prom = np.bincount(idx[items[idx] == promoted], minlength=len(items))

    rp = r.take(polar)
    code = np.where(s[polar] == PROMOTER, 1, _BASE).astype(np.float32)  # 1 and 2**20: exact
    x, _ = rp.matrix(items, user_ids=users, values=code)
    x = x.astype(np.int64)
    if x.nnz and not np.all((x.data == 1) | (x.data == _BASE)):
        raise ValueError("ratings hold duplicate (user_id, anime_id) rows; deduplicate them first")
    del r, s, rp, code
    xt = x.T.tocsr()  # anime × users: the rows from i0 on are a slice
    xc = x.tocsc()  # users × anime: a block of columns is a slice (and cheap to make CSR)
    del x

    n = len(items)
    for i0 in tqdm(range(0, n, block_size), desc="pair blocks", unit="block", disable=not progress):
        i1 = min(n, i0 + block_size)
        prod = (xt[i0:] @ xc[:, i0:i1]).tocoo()  # (b ≥ i0) × (a in block)
        a = prod.col.astype(np.int64) + i0
        b = prod.row.astype(np.int64) + i0
        v = prod.data
        n_agree = v & _MASK
        n_dis = (v >> _SHIFT) & _MASK
        n_co = n_agree + n_dis + (v >> (2 * _SHIFT))
        keep = np.flatnonzero((a < b) & (n_co >= min_corated))
        keep = keep[np.lexsort((b[keep], a[keep]))]
        a, b = a[keep], b[keep]
        yield PairCounts(
            anime_a=items[a],
            anime_b=items[b],
            n_corated=n_co[keep],
            n_agree=n_agree[keep],
            n_disagree=n_dis[keep],
            n_promoters_a=n_prom[a],
            n_promoters_b=n_prom[b],
        )


def pair_counts(
    ratings: Ratings,
    users: np.ndarray,
    min_corated: int = 20,
    *,
    block_size: int = 256,
    progress: bool = False,
) -> PairCounts:
    """All of :func:`iter_pair_counts` at once."""
    blocks = iter_pair_counts(ratings, users, min_corated, block_size=block_size, progress=progress)
    return PairCounts.concat(list(blocks))


def split_pairs(
    anime_a: np.ndarray, anime_b: np.ndarray, val_frac: float, seed: int
) -> pd.Categorical:
    """``"train"``/``"val"`` per pair from a seeded hash of the pair itself.

    Hashing (rather than permuting) gives a pair the same side whatever other pairs exist, so
    labels built from different user sets or thresholds share one split.
    """
    a = np.asarray(anime_a, dtype=np.int64).astype(np.uint64)
    b = np.asarray(anime_b, dtype=np.int64).astype(np.uint64)
    sd = np.full(len(a), seed & 0xFFFFFFFFFFFFFFFF, dtype=np.uint64)
    with np.errstate(over="ignore"):
        h = _mix(_mix(_mix(sd) ^ a) ^ b)
    u = (h >> np.uint64(11)).astype(np.float64) * 2.0**-53
    return pd.Categorical.from_codes((u < val_frac).astype(np.int8), categories=SPLITS)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a well-spread 64-bit hash (uint64 arithmetic wraps)."""
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def scores(
    n_corated: np.ndarray, n_agree: np.ndarray, n_disagree: np.ndarray
) -> tuple[np.ndarray, ...]:
    """``(agree, disagree, score)`` from the counts, as the book defines them."""
    n = np.asarray(n_corated, dtype=np.int64)
    agree = np.asarray(n_agree, dtype=np.int64) / n
    disagree = np.asarray(n_disagree, dtype=np.int64) / n
    score = np.where(agree > disagree, agree, -disagree) + 0.0  # + 0.0: no -0.0 when both are 0
    return agree, disagree, score


def labels_frame(counts: PairCounts, settings: LabelSettings) -> pd.DataFrame:
    """The pair table (:data:`COLUMNS`) for some counts: shares, Jaccard, label and split."""
    agree, disagree, score = scores(counts.n_corated, counts.n_agree, counts.n_disagree)
    both = counts.n_agree  # promoted both = promoter-set intersection
    union = counts.n_promoters_a + counts.n_promoters_b - both
    jaccard = np.zeros(len(counts), np.float64)
    np.divide(both, union, out=jaccard, where=union > 0)
    t = settings.threshold
    label = np.where(score >= t, 1, np.where(score <= -t, -1, 0)).astype(np.int8)
    return pd.DataFrame(
        {
            "anime_a": counts.anime_a,
            "anime_b": counts.anime_b,
            "n_corated": counts.n_corated,
            "n_agree": counts.n_agree,
            "n_disagree": counts.n_disagree,
            "agree": agree,
            "disagree": disagree,
            "score": score,
            "jaccard": jaccard,
            "label": label,
            "split": split_pairs(counts.anime_a, counts.anime_b, settings.val_frac, settings.seed),
        },
        columns=COLUMNS,
    )


def iter_pair_labels(
    ratings: Ratings,
    users: np.ndarray,
    settings: LabelSettings | None = None,
    *,
    block_size: int = 256,
    progress: bool = False,
) -> Iterator[pd.DataFrame]:
    """:func:`pair_labels` block by block, for writers that must not hold every pair at once."""
    settings = settings or LabelSettings()
    for c in iter_pair_counts(
        ratings, users, settings.min_corated, block_size=block_size, progress=progress
    ):
        yield labels_frame(c, settings)


def pair_labels(
    ratings: Ratings,
    users: np.ndarray,
    settings: LabelSettings | None = None,
    *,
    block_size: int = 256,
    progress: bool = False,
) -> pd.DataFrame:
    """The pair table (:data:`COLUMNS`) built from the ratings of ``users`` only.

    ``users`` is required so that the caller decides, visibly, who may shape the labels (the
    training users of the protocol split; every user only for production models).
    """
    settings = settings or LabelSettings()
    c = pair_counts(ratings, users, settings.min_corated, block_size=block_size, progress=progress)
    return labels_frame(c, settings)
