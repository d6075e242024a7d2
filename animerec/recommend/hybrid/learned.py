"""The learned fusion: α and the weights, learned on validation users and cached per setting.

The members are fitted on the training users minus a validation set carved out of them (training
users only), every candidate α is tried, and :func:`~animerec.recommend.hybrid.weights.learn_weights`
searches the weights; the choice is cached in ``WS/tuning/hybrid-fusion.json`` under a key made of
everything that decides it, so fitting again on the same data with the same settings is free.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from animerec.data.catalog import Catalog
from animerec.data.fingerprint import data_fingerprint
from animerec.data.ratings import Ratings, histories_from_ratings
from animerec.data.split import validation_split
from animerec.errors import AnimerecError
from animerec.recommend.base import Recommender
from animerec.recommend.hybrid.fusion import (
    QUALITY_PRIOR_WEIGHT,
    ItemPriors,
    seen_mask,
    standardise,
)
from animerec.recommend.hybrid.weights import ROUNDS, WEIGHT_GRID, learn_weights, pick
from animerec.workspace import Workspace, read_entries, write_entry

__all__ = [
    "FUSION_CACHE",
    "FUSION_VERSION",
    "Fusion",
    "fusion_key",
    "learn_fusion",
    "read_fusion",
    "write_fusion",
]

FUSION_CACHE = "hybrid-fusion"
"""``WS/tuning/hybrid-fusion.json``: learned fusions (α, weights, validation figures) by key, so
fitting again on the same data with the same settings skips the validation fits."""
FUSION_VERSION = 1
"""Part of the fusion cache key: raise it when the way weights are learned changes."""


@dataclass
class Fusion:
    """What the fit learns: one weight per feature, the debias exponent α, validation figures."""

    weights: np.ndarray
    alpha: float
    validation: dict[str, Any]


def learn_fusion(
    p: Any,
    feature_names: Sequence[str],
    make: Callable[[str], Recommender],
    train: Ratings,
    catalog: Catalog,
) -> Fusion:
    """α and the fusion weights for hybrid parameters ``p``: members built by ``make`` are
    fitted on the training users minus validation users and scored on the validation users'
    histories; the chosen point of the search is :func:`pick`'s."""
    vsplit = validation_split(train, seed=p.validation_seed, min_ratings=p.min_validation_ratings)
    if len(vsplit.test_users) == 0:
        raise AnimerecError(
            "hybrid: too few training users to learn fusion weights (no validation user "
            "has >= 10 ratings)"
        )
    users, hists = histories_from_ratings(vsplit.history)
    relevant = np.zeros((len(users), len(catalog)), bool)
    held = vsplit.heldout.take(vsplit.heldout.rating >= 9)
    pos = catalog.positions(held.anime_id)
    rows = np.searchsorted(users, held.user_id)
    relevant[rows[pos >= 0], pos[pos >= 0]] = True
    seen = seen_mask(hists, catalog)

    priors = ItemPriors.of(vsplit.train, catalog)
    raw = {}
    for m in p.members:
        model = make(m).fit(vsplit.train, catalog)
        raw[m] = np.asarray(model.score(hists), dtype=np.float32)
        del model
    prior_feats = [np.broadcast_to(priors.feature(x), relevant.shape) for x in p.priors]
    trace: list[dict[str, Any]] = []
    for alpha in p.debias:
        div = priors.debias(alpha) if alpha else None
        feats = [
            standardise(raw[m] / div if div is not None else raw[m], seen, p.normalise_top)
            for m in p.members
        ]
        _, _, t = learn_weights([*feats, *prior_feats], relevant, seen, p.k)
        trace += [{**row, "debias": alpha} for row in t]
        del feats
    chosen = pick(trace, p.coverage_tolerance)
    weights = np.asarray(chosen["weights"], dtype=np.float32)
    best = max(trace, key=lambda t: t["ndcg"])
    n_singles = len(feature_names)
    validation = {
        "n_users": int(len(users)),
        "n_counted": int((relevant.sum(axis=1) > 0).sum()),
        "ndcg": chosen["ndcg"],
        "distinct": chosen["distinct"],
        "best_ndcg": best["ndcg"],
        "best_distinct": best["distinct"],
        "single": {name: trace[i]["ndcg"] for i, name in enumerate(feature_names[:n_singles])},
        "n_tried": len(trace),
    }
    return Fusion(weights, float(chosen["debias"]), validation)


def fusion_key(
    p: Any, members: Mapping[str, Recommender], train: Ratings, catalog: Catalog
) -> tuple[str, dict[str, Any]]:
    """(key, settings) of a learned fusion in ``WS/tuning/hybrid-fusion.json``: everything that
    decides it — the training data, each fitted member's model, parameters and item vectors (a
    re-encoded catalog changes the key), the priors and the search settings."""
    out = {}
    for m, model in members.items():
        vectors = model.item_vectors()
        out[m] = {
            "model": model.name,
            "params": asdict(model.params),
            "vectors": None if vectors is None else _array_hash(vectors),
        }
    settings = {
        "version": FUSION_VERSION,
        "data": data_fingerprint(train, catalog),
        "members": out,
        "priors": list(p.priors),
        "debias": list(p.debias),
        "normalise_top": p.normalise_top,
        "coverage_tolerance": p.coverage_tolerance,
        "validation_seed": p.validation_seed,
        "k": p.k,
        "grid": list(WEIGHT_GRID),
        "rounds": ROUNDS,
        "quality_prior_weight": QUALITY_PRIOR_WEIGHT,
    }
    if p.min_validation_ratings != 10:  # only when set: the keys cached before it existed stay
        settings["min_validation_ratings"] = p.min_validation_ratings
    blob = json.dumps(settings, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16], settings


def _path(workspace: Workspace) -> Path:
    return workspace.sub("tuning", f"{FUSION_CACHE}.json")


def read_fusion(workspace: Workspace, key: str, n_features: int) -> Fusion | None:
    """The fusion cached under ``key`` (None if none, or not one weight per feature)."""
    entry = read_entries(_path(workspace), FUSION_CACHE).get(key)
    if entry is None or not {"weights", "alpha", "validation"} <= set(entry):
        return None
    if len(entry["weights"]) != n_features:
        return None
    weights = np.asarray(entry["weights"], dtype=np.float32)
    return Fusion(weights, float(entry["alpha"]), dict(entry["validation"]))


def write_fusion(
    workspace: Workspace,
    key: str,
    settings: dict[str, Any],
    feature_names: Sequence[str],
    fusion: Fusion,
) -> None:
    entry = {
        "settings": settings,
        "feature_names": list(feature_names),
        "weights": [float(w) for w in fusion.weights],
        "alpha": fusion.alpha,
        "validation": fusion.validation,
    }
    write_entry(_path(workspace), FUSION_CACHE, key, entry)


def _array_hash(a: np.ndarray) -> str:
    digest = hashlib.sha1(np.ascontiguousarray(a).view(np.uint8), usedforsecurity=False)
    return digest.hexdigest()[:16]
