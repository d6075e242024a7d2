"""Negatives for the training pairs: random pairs for the pair losses, and hard negatives for MNRL
(an anchor's detracted partner, an anime the base encoder finds close but fans do not co-like, or a
rarely rated one)."""

from __future__ import annotations

import numpy as np

from animerec.data.ratings import Ratings
from animerec.finetune.settings import PairSettings
from animerec.finetune.training_pairs import TrainingPairs, pair_rows
from animerec.labels import LabelSettings, pair_labels

__all__ = [
    "add_detracted_negatives",
    "add_mined_negatives",
    "detracted_partners",
    "random_negatives",
]


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


def random_negatives(
    pairs: TrainingPairs, pool: np.ndarray, per_positive: float, seed: int
) -> TrainingPairs:
    """Random (anchor, other) pairs with target 0 for the pair losses; never a known positive."""
    n = int(round(per_positive * int(pairs.positive.sum())))
    if n == 0 or len(pool) < 2:
        return pair_rows(np.zeros(0), np.zeros(0), np.zeros(0))
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
    return pair_rows(np.asarray(a_out), np.asarray(b_out), np.zeros(n), np.full(n, 10**6))


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
