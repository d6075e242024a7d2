"""Every model measured under several input protocols: the DESIGN §5 hold-out, N favourites
given (``likesN``), and N favourites plus one dislike (``likesN+d1``, beside the same users
without it).

The models are those :func:`animerec.evaluate.runner.evaluate` fitted on ``split.train`` (the
training users are the same under every protocol, so a fit serves them all); a protocol only
changes what the test users hand over and what is held out. Per user this module keeps NDCG,
HR, the NPS parts and the detractor count (recommended titles the user rated ≤ 6, among all
recommended titles), so deltas between models — and between with and without the dislike —
are paired over the very same users.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from animerec.data.nps import DETRACTOR_MAX
from animerec.data.ratings import History, histories_from_ratings
from animerec.data.split import HOLDOUT, Protocol, Split, without_dislikes
from animerec.evaluate.metrics import (
    RELEVANT,
    bootstrap_ci,
    bootstrap_ratio_ci,
    bootstrap_ratio_delta_ci,
    lookup_heldout,
    nps_user_parts,
    ranking_metrics,
)

__all__ = [
    "REFERENCES",
    "ProtocolData",
    "ProtocolRuns",
    "UserMeasures",
    "base_protocol",
    "compare",
    "only_holdout",
    "paired",
    "prepare",
    "summary",
    "user_measures",
    "variant_base",
]

REFERENCES = ("ease", "popularity")
"""The models every other one is compared with (paired deltas), per protocol."""


def variant_base(model: str, models: Collection[str]) -> str | None:
    """The model a registered variant is a setting of (``adaptive-ft`` → ``adaptive``) when
    that one is in the run too: the variant then gets a paired Δ against it as well."""
    base = model.rsplit("-", 1)[0]
    return base if base != model and base in models else None


@dataclass(frozen=True)
class ProtocolData:
    """One protocol's split of the test users, with its histories (computed once per run)."""

    protocol: Protocol
    split: Split
    users: np.ndarray
    histories: list[History]
    without: list[History] | None = None
    """With a dislike: the same users' histories without it (the paired side)."""


def base_protocol(p: Protocol) -> Protocol:
    """The protocol whose tuned parameters ``p`` uses: a dislike changes the input, not the
    model (the with/without comparison must be of one model)."""
    return Protocol(p.n_likes)


def prepare(split: Split, protocols: Sequence[Protocol], *, seed: int) -> list[ProtocolData]:
    out = []
    for p in protocols:
        ps = p.apply(split, seed=seed)
        users, hists = histories_from_ratings(ps.history)
        if not np.array_equal(users, ps.test_users):
            raise AssertionError(f"{p.name}: every test user must have a non-empty history")
        without = None
        if p.dislikes:
            w_users, without = histories_from_ratings(without_dislikes(ps).history)
            if not np.array_equal(w_users, users):
                raise AssertionError(f"{p.name}: a user has no like besides the dislike")
        out.append(ProtocolData(p, ps, users, hists, without))
    return out


@dataclass(frozen=True)
class UserMeasures:
    """Per-user measures of one model's lists under one protocol."""

    ndcg: np.ndarray
    """Users with ≥ 1 relevant answer (the same users for every model of the protocol)."""
    hr: np.ndarray
    nps_sum: np.ndarray
    nps_n: np.ndarray
    detractors: np.ndarray
    """Per user (all users): recommended titles the user rated ≤ 6."""
    recommended: np.ndarray
    """Per user: recommended titles (non-padding slots)."""


def user_measures(ids: np.ndarray, split: Split, users: np.ndarray, k: int) -> UserMeasures:
    look = lookup_heldout(ids, split.heldout, users)
    m = ranking_metrics(look, users, k)
    rated = look.rating > 0
    nps_sum, nps_n = nps_user_parts(look.rating)
    return UserMeasures(
        ndcg=m.ndcg,
        hr=m.hr,
        nps_sum=nps_sum.astype(np.float64),
        nps_n=nps_n.astype(np.float64),
        detractors=(rated & (look.rating <= DETRACTOR_MAX)).sum(axis=1).astype(np.float64),
        recommended=look.valid.sum(axis=1).astype(np.float64),
    )


def summary(m: UserMeasures, n_bootstrap: int, seed: int) -> dict[str, Any]:
    """Means with 95% bootstrap CIs (NPS and the detractor rate pooled over recommendations)."""
    return {
        "n_users": len(m.detractors),
        "n_counted_users": len(m.ndcg),
        "ndcg": bootstrap_ci(m.ndcg, n_bootstrap, seed).as_dict(),
        "hr": bootstrap_ci(m.hr, n_bootstrap, seed).as_dict(),
        "nps": bootstrap_ratio_ci(m.nps_sum, m.nps_n, n_bootstrap, seed).as_dict(),
        "detractor_rate": bootstrap_ratio_ci(
            m.detractors, m.recommended, n_bootstrap, seed
        ).as_dict(),
    }


def paired(a: UserMeasures, b: UserMeasures, n_bootstrap: int, seed: int) -> dict[str, Any]:
    """``a − b`` over the same users: NDCG@k, HR@k and the detractor rate."""
    if len(a.ndcg) != len(b.ndcg) or len(a.detractors) != len(b.detractors):
        raise AssertionError("paired measures must be over the same users")
    return {
        "ndcg": bootstrap_ci(a.ndcg - b.ndcg, n_bootstrap, seed).as_dict(),
        "hr": bootstrap_ci(a.hr - b.hr, n_bootstrap, seed).as_dict(),
        "detractor_rate": bootstrap_ratio_delta_ci(
            a.detractors, a.recommended, b.detractors, b.recommended, n_bootstrap, seed
        ).as_dict(),
    }


def compare(
    measures: Mapping[str, Mapping[str, UserMeasures]],
    without: Mapping[str, Mapping[str, UserMeasures]],
    params: Mapping[str, Mapping[str, Any]],
    *,
    n_bootstrap: int,
    seed: int,
) -> dict[str, Any]:
    """The ``protocols`` part of ``metrics.json``: per protocol and model the summary, the
    parameters it ran with, paired deltas against :data:`REFERENCES` and, with a dislike, the
    same users without it (and the paired Δ with − without). A variant (``adaptive-ft``) is
    also compared with its base model (``adaptive``) when both ran.

    ``measures[protocol][model]``; ``without`` likewise for protocols with a dislike;
    ``params[protocol][model]``."""
    out: dict[str, Any] = {}
    for pname, models in measures.items():
        rows = {}
        for model, m in models.items():
            row = {"params": params[pname][model], **summary(m, n_bootstrap, seed)}
            refs = dict.fromkeys([*REFERENCES, variant_base(model, models)])
            row["vs"] = {
                ref: paired(m, models[ref], n_bootstrap, seed)
                for ref in refs
                if ref is not None and ref in models and ref != model
            }
            w = without.get(pname, {}).get(model)
            if w is not None:
                row["without_dislike"] = summary(w, n_bootstrap, seed)
                row["dislike_delta"] = paired(m, w, n_bootstrap, seed)
            rows[model] = row
        out[pname] = rows
    return out


def only_holdout(protocols: Sequence[Protocol]) -> bool:
    """Whether the run is today's (no ``protocols`` part in the report at all)."""
    return list(protocols) == [HOLDOUT]


class ProtocolRuns:
    """The per-user measures of every model of one run under every protocol, gathered model by
    model (so no fitted model outlives its turn) and summarised at the end."""

    def __init__(
        self,
        data: Sequence[ProtocolData],
        k: int,
        rank: Callable[[Any, list[History]], np.ndarray],
    ) -> None:
        self.data, self.k, self.rank = list(data), k, rank
        self.measures: dict[str, dict[str, UserMeasures]] = {d.protocol.name: {} for d in data}
        self.without: dict[str, dict[str, UserMeasures]] = {
            d.protocol.name: {} for d in data if d.without is not None
        }
        self.params: dict[str, dict[str, Any]] = {d.protocol.name: {} for d in data}

    def add(
        self, model: Any, model_for: Callable[[Protocol], Any], holdout_ids: np.ndarray
    ) -> None:
        """Measure ``model_for(protocol)`` (``model`` itself, or the same model with parameters
        tuned for that protocol) under each protocol; the hold-out reuses ``holdout_ids``, the
        lists the main evaluation ranked, when the model is ``model``."""
        for d in self.data:
            name, pm = d.protocol.name, model_for(d.protocol)
            if d.protocol == HOLDOUT and pm is model:
                ids = holdout_ids
            else:
                ids = self.rank(pm, d.histories)
            self.measures[name][model.name] = user_measures(ids, d.split, d.users, self.k)
            self.params[name][model.name] = asdict(pm.params)
            if d.without is not None:
                ids = self.rank(pm, d.without)
                self.without[name][model.name] = user_measures(ids, d.split, d.users, self.k)

    def result(
        self, tunings: Mapping[str, Mapping[str, Any]], *, n_bootstrap: int, seed: int
    ) -> dict:
        """The ``protocols`` part of ``metrics.json``; ``tunings[model][protocol]`` are the
        per-protocol :class:`~animerec.evaluate.tune.Tuning` objects."""
        return {
            "protocols": [d.protocol.name for d in self.data],
            "tuned_per_protocol": sorted(tunings),
            "split": {
                d.protocol.name: {
                    "n_test_users": int(len(d.users)),
                    "n_history_ratings": len(d.split.history),
                    "n_heldout_ratings": len(d.split.heldout),
                    "n_heldout_relevant": int((d.split.heldout.rating >= RELEVANT).sum()),
                }
                for d in self.data
            },
            "tunings": {
                m: {pn: {"best": t.best, "key": t.key, "cached": t.cached} for pn, t in per.items()}
                for m, per in tunings.items()
            },
            "results": compare(
                self.measures, self.without, self.params, n_bootstrap=n_bootstrap, seed=seed
            ),
        }
