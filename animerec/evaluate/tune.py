"""Grid search of a recommender's hyper-parameters on a validation split of the *training* users.

Tuning never sees a test user: it receives ``Split.train`` only, carves validation users out of it
with :func:`~animerec.data.split.validation_split`, fits each grid point on the remaining
training users and scores NDCG@k on the validation users' held-out ratings. The choice is cached
as JSON (``WS/tuning/<model>.json``) under a key made of everything that decides it — a
fingerprint of the training ratings and catalog, the split settings, k, the grid and every other
parameter as the model resolves it (defaults included) — so a later ``evaluate`` (or a hybrid
tuning its members) reuses it, and any change re-tunes.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from animerec.data.catalog import Catalog
from animerec.data.fingerprint import data_fingerprint
from animerec.data.ratings import Ratings, histories_from_ratings
from animerec.data.split import HOLDOUT, SEED, Protocol, Split, validation_split
from animerec.evaluate.metrics import id_matrix, lookup_heldout, ranking_metrics
from animerec.recommend.base import Recommender
from animerec.workspace import read_entries, write_entry

__all__ = ["VALIDATION_FRAC", "Tuning", "grid", "tune", "tune_protocols", "validation_ndcg"]

VALIDATION_FRAC = 0.2


def grid(space: Mapping[str, list]) -> list[dict[str, Any]]:
    """Every combination of a search space, in a fixed order (keys sorted, values as listed)."""
    keys = sorted(space)
    return [
        dict(zip(keys, combo, strict=True))
        for combo in itertools.product(*(space[k] for k in keys))
    ]


@dataclass
class Tuning:
    """The outcome of one grid search."""

    model: str
    best: dict[str, Any]
    """The chosen parameters (grid values only; fixed parameters are not repeated)."""
    rows: list[dict[str, Any]] = field(default_factory=list)
    """One row per grid point: ``params``, ``ndcg``, ``hr``, ``recall``, ``fit_s``."""
    key: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    cached: bool = False
    tune_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "best": self.best,
            "rows": self.rows,
            "key": self.key,
            "settings": self.settings,
            "tune_s": self.tune_s,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, cached: bool = False) -> Tuning:
        return cls(
            model=d["model"],
            best=dict(d["best"]),
            rows=list(d["rows"]),
            key=d["key"],
            settings=dict(d["settings"]),
            cached=cached,
            tune_s=float(d.get("tune_s", 0.0)),
        )


def _scores(model: Recommender, vsplit: Split, catalog: Catalog, k: int) -> dict[str, float]:
    """NDCG/HR/Recall@k of a fitted ``model`` on the users of ``vsplit``."""
    users, hists = histories_from_ratings(vsplit.history)
    ids = id_matrix(model.recommend(hists, k), k)
    m = ranking_metrics(lookup_heldout(ids, vsplit.heldout, users), users, k)
    mean = lambda x: float(x.mean()) if len(x) else float("nan")  # noqa: E731
    return {
        "ndcg": mean(m.ndcg),
        "hr": mean(m.hr),
        "recall": mean(m.recall),
        "n_users": len(m.users),
    }


def validation_ndcg(
    model: Recommender,
    train: Ratings,
    catalog: Catalog,
    *,
    k: int = 10,
    seed: int = SEED + 1,
    protocols: Sequence[Protocol] = (HOLDOUT,),
) -> dict[str, dict[str, float]]:
    """Fit ``model`` once on the non-validation training users; NDCG/HR/Recall@k on the
    validation users under each protocol (keyed by protocol name; ``fit_s`` in each)."""
    vsplit = validation_split(train, seed=seed, frac=VALIDATION_FRAC)
    t0 = time.perf_counter()
    model.fit(vsplit.train, catalog)
    fit_s = time.perf_counter() - t0
    return {
        p.name: {**_scores(model, p.apply(vsplit, seed=seed), catalog, k), "fit_s": fit_s}
        for p in protocols
    }


def tune(
    name: str,
    make: Callable[..., Recommender],
    space: Mapping[str, list],
    train: Ratings,
    catalog: Catalog,
    *,
    k: int = 10,
    seed: int = SEED,
    fixed: Mapping[str, Any] | None = None,
    cache_dir: str | Path | None = None,
    retune: bool = False,
    log: Callable[[str], None] | None = None,
    protocol: Protocol = HOLDOUT,
) -> Tuning:
    """Grid-search ``space`` for model ``name`` (built by ``make(**fixed, **point)``) under
    ``protocol`` on validation users (see :func:`tune_protocols`)."""
    kw = dict(k=k, seed=seed, fixed=fixed, cache_dir=cache_dir, retune=retune, log=log)
    return tune_protocols(name, make, space, train, catalog, protocols=[protocol], **kw)[
        protocol.name
    ]


def tune_protocols(
    name: str,
    make: Callable[..., Recommender],
    space: Mapping[str, list],
    train: Ratings,
    catalog: Catalog,
    *,
    protocols: Sequence[Protocol],
    k: int = 10,
    seed: int = SEED,
    fixed: Mapping[str, Any] | None = None,
    cache_dir: str | Path | None = None,
    retune: bool = False,
    log: Callable[[str], None] | None = None,
) -> dict[str, Tuning]:
    """Grid-search ``space`` for model ``name`` once per protocol, fitting each grid point
    once for all of them (a fit is the cost; ranking the validation users is cheap).

    ``train`` must be the protocol's training ratings only; validation users are carved from
    it and given their input under each protocol (never a test user); the best point
    maximises validation NDCG@k (ties: the first in :func:`grid` order). ``cache_dir`` holds
    ``<name>.json``, one entry per key; a matching entry is reused unless ``retune``. The
    hold-out's key is what it was before protocols existed (old caches stay valid); another
    protocol adds its name to the key.
    """
    fixed = dict(fixed or {})
    vseed = seed + 1
    settings = {
        "data": data_fingerprint(train, catalog),
        "validation": {
            "seed": vseed,
            "frac": VALIDATION_FRAC,
            "holdout_frac": 0.2,
            "min_ratings": 10,
        },
        "k": k,
        "space": {key: list(space[key]) for key in sorted(space)},
        # every parameter the grid does not vary, defaults included, as the model resolves them
        "base": _base_params(make(**fixed), space),
        "select_by": f"ndcg@{k}",
    }
    path = Path(cache_dir) / f"{name}.json" if cache_dir is not None else None
    cached = read_entries(path, name)
    out: dict[str, Tuning] = {}
    todo: dict[str, tuple[Protocol, dict[str, Any], str]] = {}
    for p in dict.fromkeys(protocols):
        s = settings if p == HOLDOUT else {**settings, "protocol": p.name}
        key = hashlib.sha256(json.dumps(s, sort_keys=True, default=str).encode())
        key = key.hexdigest()[:16]
        hit = cached.get(key)
        if hit is not None and not retune:
            out[p.name] = Tuning.from_dict(hit, cached=True)
        else:
            todo[p.name] = (p, s, key)
    if not todo:
        return out

    t0 = time.perf_counter()
    rows: dict[str, list[dict[str, Any]]] = {pn: [] for pn in todo}
    # A bar with an ETA where someone watches (a log is given): a grid is minutes of fits.
    bar = tqdm(grid(space), desc=f"tuning {name}", unit="fit", leave=False, disable=log is None)
    for point in bar:
        res = validation_ndcg(
            make(**fixed, **point), train, catalog, k=k, seed=vseed,
            protocols=[p for p, _, _ in todo.values()],
        )  # fmt: skip
        for pn, r in res.items():
            rows[pn].append({"params": point, **r})
            if log is not None:
                where = "" if pn == HOLDOUT.name else f" @ {pn}"
                with tqdm.external_write_mode():  # the line above the bar, not through it
                    log(f"tune {name}{where} {point}: ndcg@{k}={r['ndcg']:.4f}")
    bar.close()
    tune_s = time.perf_counter() - t0
    for pn, (_, s, key) in todo.items():
        scores = np.array([r["ndcg"] for r in rows[pn]], dtype=np.float64)
        best = (
            rows[pn][int(np.argmax(np.nan_to_num(scores, nan=-np.inf)))]["params"]
            if rows[pn]
            else {}
        )
        result = Tuning(model=name, best=best, rows=rows[pn], key=key, settings=s, tune_s=tune_s)
        if path is not None:
            write_entry(path, name, key, {**result.as_dict(), "fixed": fixed})
        out[pn] = result
    return out


def _base_params(model: Recommender, space: Mapping[str, list]) -> dict[str, Any]:
    """The model's resolved parameters outside the grid, and what its fit reads besides
    them (``inputs``: the content model's embedder and weights) where it reads anything."""
    out = {key: v for key, v in asdict(model.params).items() if key not in space}
    identity = model.input_identity()
    if identity:  # inputs the parameters only name (say, "auto" or a default length)
        out["inputs"] = identity
    return out
