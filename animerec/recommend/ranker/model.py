"""The ranker: candidates pooled from member recommenders, re-scored by a LightGBM lambdarank
booster learned on validation users (:mod:`animerec.recommend.ranker.learn`).

Scores: a candidate gets the booster's score; every other title the first member can score gets
a score below every candidate, in that member's order (so filters that remove every candidate
still leave a sensible list, and the pipeline's fallback and exploration work as for any model);
what the first member cannot score stays ``-inf``. Reasons are those of the member that proposed
the candidate (the first in member order whose best titles hold it), so each says something true.

Fitting learns on validation users carved from the training users (never the test users) and
records a cross-fitted check per protocol against the first member (``validation``). With a
workspace the learned booster is cached in ``WS/tuning/ranker/KEY.txt`` (LightGBM's text model)
beside ``KEY.json``, under a key of everything that decides it, so fitting the same model on the
same data again skips the validation fits.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Self

import lightgbm as lgb
import numpy as np

from animerec.data.catalog import Catalog
from animerec.data.fingerprint import data_fingerprint
from animerec.data.ratings import History, Ratings
from animerec.data.split import validation_split
from animerec.errors import AnimerecError
from animerec.recommend.adaptive import AdaptiveRecommender
from animerec.recommend.base import Recommender
from animerec.recommend.context import Context
from animerec.recommend.models import SINGLE_MODELS, lookup
from animerec.recommend.ranker.features import ITEM_FEATURES, ItemSide, candidates, feature_names
from animerec.recommend.ranker.learn import check, lgb_params, queries, train_booster
from animerec.recommend.state_files import write_state
from animerec.workspace import atomic_path, read_json, write_json

__all__ = ["BOOSTER_FILE", "RankerRecommender"]

MEMBER_MODELS = {**SINGLE_MODELS, AdaptiveRecommender.name: AdaptiveRecommender}
BOOSTER_FILE = "booster.txt"
"""LightGBM's own text model, in the saved model's directory (no pickle)."""
VERSION = 1
"""Part of the booster cache key: raise it when features or learning change."""
BLOCK = 128
OBJECTIVES = ("lambdarank", "rank_xendcg")


def model_of(member: str) -> str:
    return member.split("/", 1)[0]


class _Recent(threading.local):
    """Per thread: which member proposed each candidate of the histories last scored."""

    def __init__(self) -> None:
        self.rows: dict[int, tuple[History, np.ndarray, np.ndarray]] = {}


class RankerRecommender(Recommender):
    """Member candidates re-scored by a lambdarank booster learned on validation users."""

    name: ClassVar[str] = "ranker"

    @dataclass
    class Params:
        members: tuple[str, ...] = ("adaptive", "itemknn", "content", "popularity", "userknn")
        """Models that propose and describe candidates; the first orders the rest of the catalog
        (user-kNN: it ties EASE at one like on validation users)."""
        depths: tuple[int, ...] = (100, 50, 50, 30, 50)
        """Best unseen titles each member proposes."""
        member_params: dict[str, dict[str, Any]] = field(
            default_factory=lambda: {"content": {"embedder": "minilm"}}
        )
        """Per member over its defaults. Content: base MiniLM, since the fine-tuned adapter's
        training users include the validation users the booster learns on."""
        protocols: tuple[int, ...] = (0, 1, 3, 5, 10)
        """Likes given in the validation queries (0: the DESIGN §5 hold-out)."""
        draws: int = 3
        """Seeded draws of the likes per validation user and protocol."""
        validation_seed: int = 43
        min_validation_ratings: int = 10
        objective: str = "rank_xendcg"
        """LightGBM's ranking objective (``lambdarank`` or ``rank_xendcg``). The booster
        settings below are those that validated best in the cross-fitted check on the DEV
        validation users (docs/experiments.md, "The learned ranker"): small trees generalise,
        the 31-leaf, 300-round lambdarank booster over-fits 190 users."""
        rounds: int = 150
        learning_rate: float = 0.05
        num_leaves: int = 15
        min_data_in_leaf: int = 100
        feature_fraction: float = 0.8
        seed: int = 0
        num_threads: int = 2

    def __init__(self, params: Params | None = None, context: Context | None = None) -> None:
        self.params = p = params or self.Params()
        p.members, p.depths = tuple(p.members), tuple(int(d) for d in p.depths)
        p.protocols = tuple(int(n) for n in p.protocols)
        if not p.members or len(p.depths) != len(p.members):
            raise AnimerecError(
                f"ranker: give one depth per member ({len(p.members)} members, "
                f"{len(p.depths)} depths)"
            )
        if len(set(p.members)) != len(p.members):
            raise AnimerecError(f"ranker: a member is listed twice: {', '.join(p.members)}")
        if p.objective not in OBJECTIVES:
            raise AnimerecError(
                f"ranker: objective must be one of {', '.join(OBJECTIVES)}, not {p.objective!r}"
            )
        for m in p.members:
            lookup(model_of(m), MEMBER_MODELS)
        self.context = context or Context()
        self.members: list[Recommender] = []
        self.side: ItemSide | None = None
        self.booster: lgb.Booster | None = None
        self.validation: dict[str, Any] = {}
        self._recent = _Recent()

    @classmethod
    def build(cls, params: Mapping[str, Any] | None = None, context: Context | None = None) -> Self:
        return cls(cls.Params(**dict(params or {})), context=context)

    @classmethod
    def members_of(cls, params: Mapping[str, Any]) -> dict[str, tuple[str, dict[str, Any], bool]]:
        p = cls.Params(**dict(params))
        return {m: (model_of(m), dict(p.member_params.get(m, {})), False) for m in p.members}

    def _make(self, member: str) -> Recommender:
        settings = self.params.member_params.get(member, {})
        return lookup(model_of(member), MEMBER_MODELS).build(settings, self.context)

    def input_identity(self) -> dict[str, Any]:
        return {m: self._make(m).input_identity() for m in self.params.members}

    @property
    def names(self) -> list[str]:
        return feature_names(
            self.params.members, self.side is not None and self.side.vectors is not None
        )

    # --- fitting --------------------------------------------------------------------------------
    def fit(self, train: Ratings, catalog: Catalog) -> Self:
        pool = self.context.pool
        self.catalog = catalog
        self.members = []
        for m in self.params.members:
            model = self._make(m)
            self.members.append(
                model.fit(train, catalog) if pool is None else pool.fit(model, train, catalog)
            )
        self.side = ItemSide.of(train, catalog, self._vectors(self.members))
        key = self._key(train, catalog)
        hit = self._read(key)
        if hit is None:
            self.booster, self.validation = self._learn(train, catalog)
            self._write(key)
        else:
            self.booster, self.validation = hit
        return self

    @staticmethod
    def _vectors(members: Sequence[Recommender]) -> np.ndarray | None:
        for m in reversed(members):  # the content member, if any
            v = m.item_vectors()
            if v is not None:
                return v
        return None

    def _learn(self, train: Ratings, catalog: Catalog) -> tuple[lgb.Booster, dict[str, Any]]:
        p = self.params
        vsplit = validation_split(
            train, seed=p.validation_seed, min_ratings=p.min_validation_ratings
        )
        if len(vsplit.test_users) == 0:
            raise AnimerecError(
                f"ranker: no training user has >= {p.min_validation_ratings} ratings to validate on"
            )
        members = [self._make(m).fit(vsplit.train, catalog) for m in p.members]
        side = ItemSide.of(vsplit.train, catalog, self._vectors(members))
        q = queries(members, p.depths, side, vsplit, p.protocols, p.draws, catalog)
        del members
        names = self.names
        params, categorical = lgb_params(p), [names.index("type")]
        validation = {
            "n_users": int(len(vsplit.test_users)),
            "n_queries": int(len(q.groups)),
            "n_rows": int(len(q.labels)),
            "protocols": check(
                q, params, p.rounds, categorical, names.index(f"{p.members[0]}:rank"), p.seed
            ),
        }
        return train_booster(q, params, p.rounds, categorical), validation

    # --- the booster cache ----------------------------------------------------------------------
    def _key(self, train: Ratings, catalog: Catalog) -> str | None:
        ws = self.context.workspace
        if ws is None:
            return None
        settings = {
            "version": VERSION,
            "data": data_fingerprint(train, catalog),
            "params": asdict(self.params),
            "members": [
                {"params": asdict(m.params), "inputs": m.input_identity()} for m in self.members
            ],
            "features": self.names,
            "lightgbm": lgb.__version__,
        }
        blob = json.dumps(settings, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def _read(self, key: str | None) -> tuple[lgb.Booster, dict[str, Any]] | None:
        if key is None or self.context.retune:
            return None
        folder = self.context.workspace.sub("tuning", "ranker")
        if not (folder / f"{key}.txt").exists() or not (folder / f"{key}.json").exists():
            return None
        meta = read_json(folder / f"{key}.json")
        booster = lgb.Booster(model_str=(folder / f"{key}.txt").read_text())
        return booster, dict(meta.get("validation", {}))

    def _write(self, key: str | None) -> None:
        if key is None:
            return
        folder = self.context.workspace.sub("tuning", "ranker")
        with atomic_path(folder / f"{key}.txt") as tmp:
            tmp.write_text(self.booster.model_to_string())
        write_json(folder / f"{key}.json", {"features": self.names, "validation": self.validation})

    # --- scoring --------------------------------------------------------------------------------
    def score(self, histories: Sequence[History]) -> np.ndarray:
        catalog = self.fitted_catalog()
        out = np.empty((len(histories), len(catalog)), np.float32)
        self._recent.rows = {}
        rank0 = self.names.index(f"{self.params.members[0]}:rank")
        for s in range(0, len(histories), BLOCK):
            block = histories[s : s + BLOCK]
            scores = [np.asarray(m.score(block), np.float32) for m in self.members]
            cands = [
                candidates(h, [x[r] for x in scores], self.params.depths, self.side, catalog)
                for r, h in enumerate(block)
            ]
            rows = np.concatenate([c.features for c in cands]) if cands else np.zeros((0, 1))
            pred = self.booster.predict(rows, num_threads=1) if len(rows) else np.zeros(0)
            at = 0
            for r, (h, c) in enumerate(zip(block, cands, strict=True)):
                n = len(c.positions)
                # near-ties of the booster go the first member's way (a booster that learned
                # nothing ranks as that member)
                mine = pred[at : at + n] - 1e-6 * c.features[:, rank0] / max(n, 1)
                at += n
                out[s + r] = _tail(scores[0][r], float(mine.min()) - 1.0 if n else 0.0)
                out[s + r, c.positions] = mine
                self._recent.rows[id(h)] = (h, c.positions, c.proposer)
        return out

    def reasons(self, history: History, anime_ids: np.ndarray, scores: np.ndarray) -> list[str]:
        catalog = self.fitted_catalog()
        hit = self._recent.rows.get(id(history))
        if hit is None or hit[0] is not history:
            self.score([history])
            hit = self._recent.rows[id(history)]
        _, positions, proposer = hit
        pos = catalog.positions(anime_ids)
        who = np.zeros(len(pos), np.int64)  # titles outside the candidates: the first member's
        order = np.argsort(positions)
        at = np.minimum(np.searchsorted(positions[order], pos), max(len(positions) - 1, 0))
        inside = (pos >= 0) & (len(positions) > 0)
        if len(positions):
            inside &= positions[order][at] == pos
            who[inside] = proposer[order][at][inside]
        out = [""] * len(anime_ids)
        for m in np.unique(who):
            js = np.flatnonzero(who == m)
            why = self.members[int(m)].reasons(history, anime_ids[js], scores[js])
            for j, w in zip(js, why, strict=True):
                out[j] = w
        return out

    def item_vectors(self) -> np.ndarray | None:
        return None if self.side is None else self.side.vectors

    # --- persistence ----------------------------------------------------------------------------
    def state(self) -> dict[str, np.ndarray]:
        meta = {
            "member_params": [asdict(m.params) for m in self.members],
            "validation": self.validation,
            "features": self.names,
        }
        out: dict[str, np.ndarray] = {
            "meta": np.array(json.dumps(meta, default=str)),
            "items": self.side.items,
            "franchise_of": self.side.franchise_of,
        }
        if self.side.vectors is not None:
            out["vectors"] = self.side.vectors
        for name, m in zip(self.params.members, self.members, strict=True):
            for key, value in m.state().items():
                out[f"member.{name}.{key}"] = value
        return out

    def set_state(self, arrays: dict[str, np.ndarray], catalog: Catalog) -> None:
        meta = json.loads(str(arrays["meta"]))
        self.validation = meta.get("validation", {})
        if arrays["items"].shape[1] != len(ITEM_FEATURES):
            raise AnimerecError("ranker: the saved item features are not this version's")
        vectors = arrays.get("vectors")
        self.side = ItemSide(
            _plain(arrays["items"]),
            _plain(arrays["franchise_of"]),
            None if vectors is None else _plain(vectors),
        )
        self.members = []
        for name, mp in zip(self.params.members, meta["member_params"], strict=True):
            prefix = f"member.{name}."
            sub = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
            member = lookup(model_of(name), MEMBER_MODELS).from_params(mp, self.context)
            member.set_state(sub, catalog)
            self.members.append(member)
        self.catalog = catalog

    def save(self, path: str | os.PathLike[str]) -> None:
        """``params.json``, ``state/`` (members and item features, one ``.npy`` each) and LightGBM's text
        model ``booster.txt``, written together atomically."""
        meta = {"model": self.name, "params": asdict(self.params)}
        with atomic_path(path) as tmp:
            tmp.mkdir()
            (tmp / "params.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
            write_state(tmp, self.state())
            (tmp / BOOSTER_FILE).write_text(self.booster.model_to_string())

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], catalog: Catalog, context: Context | None = None
    ) -> Self:
        path = Path(path)
        if not (path / BOOSTER_FILE).exists():
            raise AnimerecError(f"{path / BOOSTER_FILE} is missing: the saved ranker is incomplete")
        model = super().load(path, catalog, context)
        model.booster = lgb.Booster(model_str=(path / BOOSTER_FILE).read_text())
        return model


def _plain(array: np.ndarray) -> np.ndarray:
    """A plain ``ndarray`` view of a (read-only) memory map: the same shared pages, without
    ``np.memmap``'s Python-level indexing, which a request pays several times per member."""
    return array.view(np.ndarray) if isinstance(array, np.memmap) else array


def _tail(base: np.ndarray, top: float) -> np.ndarray:
    """``base`` mapped in order into ``[top − 1, top]`` (``-inf`` kept): the titles after the
    candidates, in the first member's order. In-place ``float32`` steps over the catalog row
    (the same operations, so the same values, as ``top − (hi − base) / span``)."""
    fin = np.isfinite(base)
    every = bool(fin.all())
    if not every and not fin.any():
        return np.full(len(base), -np.inf, np.float32)
    known = base if every else base[fin]
    hi, lo = float(known.max()), float(known.min())
    span = hi - lo if hi > lo else 1.0
    t = np.subtract(hi, base if every else np.where(fin, base, hi))  # python floats: float32 ops
    np.divide(t, span, out=t)
    np.subtract(top, t, out=t)
    if not every:
        t[~fin] = -np.inf
    return t.astype(np.float32, copy=False)
