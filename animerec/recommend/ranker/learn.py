"""Learning the ranker on validation users: queries at several history lengths, LightGBM
``lambdarank``, and a cross-fitted check of what it wins over its first member.

Why validation users: the hybrid's precedent (:mod:`animerec.recommend.hybrid.learned`). The
members are fitted on the training users minus a validation set carved from them; each validation
user's input is drawn under every protocol the ranker must serve (the DESIGN §5 hold-out and N
favourites given, N in 1, 3, 5, 10, each drawn ``draws`` times with its own seed), and the label of
a candidate is whether it is relevant under that protocol (a held-out rating ≥ 9). Test users play
no part. The check splits the validation users in two seeded halves, trains on one and ranks the
other, so the figures it records are out of sample for the ranker (the members were fitted
without every validation user either way).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np

from animerec.data.catalog import Catalog
from animerec.data.ratings import histories_from_ratings
from animerec.data.split import FAN, SEED, Protocol, Split
from animerec.recommend.base import Recommender
from animerec.recommend.ndcg import ndcg
from animerec.recommend.ranker.features import ItemSide, candidates

__all__ = ["Queries", "check", "lgb_params", "queries", "train_booster"]

BLOCK = 128
"""Histories scored by the members at once."""
K = 10


@dataclass(frozen=True)
class Queries:
    """Every validation query: candidates' features and labels, grouped by query."""

    features: np.ndarray
    """``float32 [rows, F]``."""
    labels: np.ndarray
    """``int32 [rows]``: 1 where the candidate is relevant under the query's protocol."""
    groups: np.ndarray
    """Rows per query."""
    protocol: np.ndarray
    """Per query: likes given (0: the hold-out)."""
    user: np.ndarray
    n_relevant: np.ndarray
    """Per query: relevant titles overall (candidates or not: the NDCG ideal)."""

    def take(self, keep: np.ndarray) -> Queries:
        """The queries where ``keep`` (per query) is True."""
        rows = np.repeat(keep, self.groups)
        return Queries(
            self.features[rows],
            self.labels[rows],
            self.groups[keep],
            self.protocol[keep],
            self.user[keep],
            self.n_relevant[keep],
        )


def queries(
    members: Sequence[Recommender],
    depths: Sequence[int],
    side: ItemSide,
    vsplit: Split,
    protocols: Sequence[int],
    draws: int,
    catalog: Catalog,
) -> Queries:
    """The validation queries of ``vsplit`` under each protocol (``draws`` seeded draws of the
    likes; the hold-out once), with ``members`` fitted on ``vsplit.train``."""
    feats, labels, groups, proto, users_out, n_rel = [], [], [], [], [], []
    for n in protocols:
        for d in range(draws if n else 1):
            ps = Protocol(int(n)).apply(vsplit, seed=SEED + d)
            users, hists = histories_from_ratings(ps.history)
            held = ps.heldout.take(ps.heldout.rating >= FAN)
            pos = catalog.positions(held.anime_id)
            ok = pos >= 0
            row = np.searchsorted(users, held.user_id[ok])
            relevant = [pos[ok][row == i] for i in range(len(users))]
            counts = np.bincount(np.searchsorted(users, held.user_id), minlength=len(users))
            for s in range(0, len(hists), BLOCK):
                block = hists[s : s + BLOCK]
                scores = [np.asarray(m.score(block), np.float32) for m in members]
                for r, h in enumerate(block):
                    c = candidates(h, [x[r] for x in scores], depths, side, catalog)
                    feats.append(c.features)
                    labels.append(np.isin(c.positions, relevant[s + r]).astype(np.int32))
                    groups.append(len(c.positions))
            proto += [int(n)] * len(users)
            users_out.append(users)
            n_rel.append(counts)
    return Queries(
        np.concatenate(feats).astype(np.float32),
        np.concatenate(labels),
        np.asarray(groups, np.int64),
        np.asarray(proto, np.int64),
        np.concatenate(users_out),
        np.concatenate(n_rel),
    )


def lgb_params(p: Any) -> dict[str, Any]:
    """LightGBM settings of ranker parameters ``p``: seeded and deterministic."""
    return {
        "objective": p.objective,
        "metric": "ndcg",
        "eval_at": [K],
        "learning_rate": p.learning_rate,
        "num_leaves": p.num_leaves,
        "min_data_in_leaf": p.min_data_in_leaf,
        "feature_fraction": p.feature_fraction,
        "lambda_l2": 1.0,
        "lambdarank_truncation_level": 2 * K,
        "deterministic": True,
        "force_row_wise": True,
        "seed": p.seed,
        "num_threads": p.num_threads,
        "verbosity": -1,
    }


def train_booster(
    q: Queries, params: Mapping[str, Any], rounds: int, categorical: Sequence[int]
) -> lgb.Booster:
    """A booster trained on the queries that hold a relevant candidate (the others carry no
    gradient in lambdarank)."""
    useful = q.take(positives(q) > 0)
    data = lgb.Dataset(
        useful.features,
        useful.labels,
        group=useful.groups,
        categorical_feature=list(categorical),
        params={"verbosity": -1},
        free_raw_data=True,
    )
    return lgb.train(dict(params), data, num_boost_round=rounds)


def positives(q: Queries) -> np.ndarray:
    """Relevant candidates per query."""
    query = np.repeat(np.arange(len(q.groups)), q.groups)
    return np.bincount(query, weights=q.labels, minlength=len(q.groups))


def _starts(groups: np.ndarray) -> np.ndarray:
    return np.r_[0, np.cumsum(groups)[:-1]].astype(np.int64)


def query_ndcg(q: Queries, scores: np.ndarray) -> np.ndarray:
    """NDCG@10 per query of the candidates ordered by ``scores`` (every query; 0 where no
    relevant title is among the candidates, as in the evaluation)."""
    out = np.zeros(len(q.groups))
    hits = np.zeros((len(q.groups), K))
    for i, (s, g) in enumerate(zip(_starts(q.groups), q.groups, strict=True)):
        order = np.argsort(-scores[s : s + g], kind="stable")[:K]
        hits[i, : len(order)] = q.labels[s : s + g][order]
    counted = q.n_relevant >= 1
    out[counted] = ndcg(hits, q.n_relevant, K)
    return out


def _ci(x: np.ndarray, seed: int, n_boot: int = 1000) -> list[float]:
    if len(x) == 0:
        return [float("nan")] * 2
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, len(x), (n_boot, len(x)))].mean(axis=1)
    return [float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))]


def check(
    q: Queries,
    params: Mapping[str, Any],
    rounds: int,
    categorical: Sequence[int],
    base_column: int,
    seed: int,
) -> dict[str, Any]:
    """Cross-fitted NDCG@10 per protocol on the validation users: the ranker trained on one
    seeded half of the users ranks the other half; against the first member's own order of the
    same candidates (``base_column``: its rank feature), paired over the same queries."""
    users = np.unique(q.user)
    half = np.isin(q.user, np.random.default_rng(seed).permutation(users)[: len(users) // 2])
    pred = np.zeros(len(q.labels))
    for fold in (half, ~half):
        if not fold.any() or fold.all():
            return {}
        booster = train_booster(q.take(~fold), params, rounds, categorical)
        pred[np.repeat(fold, q.groups)] = booster.predict(
            q.features[np.repeat(fold, q.groups)], num_threads=params["num_threads"]
        )
    ranker = query_ndcg(q, pred)
    base = query_ndcg(q, -q.features[:, base_column].astype(np.float64))
    out: dict[str, Any] = {}
    for n in np.unique(q.protocol):
        at = (q.protocol == n) & (q.n_relevant >= 1)
        name = "holdout" if n == 0 else f"likes{n}"
        delta = ranker[at] - base[at]
        out[name] = {
            "n_queries": int(at.sum()),
            "base_ndcg": float(base[at].mean()),
            "ranker_ndcg": float(ranker[at].mean()),
            "delta": float(delta.mean()),
            "delta_ci": _ci(delta, seed),
        }
    return out
