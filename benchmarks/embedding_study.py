"""The embedding study of docs/experiments.md: fine-tuned vs base text embedders as recommenders.

Every figure of docs/experiments.md comes from one of these steps (each resumable: models already
trained, vectors already in the workspace's embedding cache and results already written are
reused; delete ``WS/study/<step>/<label>.json`` to redo one):

    export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
    S="python benchmarks/embedding_study.py --workspace WS"
    $S list                         # the configurations below
    $S train NAME...                # fine-tune configurations (WS/models/NAME)
    $S encode LABEL...              # encode the catalog into the embedding cache
    $S extend base@384 base@512     # the same, encoding only descriptions longer than 256 tokens
    $S select LABEL...              # content NDCG@10 on VALIDATION users (model selection)
    $S dev LABEL... [--hybrid]      # content (and hybrid) on the DEV protocol's test users
    $S dev-both LABEL...            # hybrid with base MiniLM and LABEL as two content members
    $S coldstart LABEL...           # the cold-start item test
    $S coldscore [--val] LABEL...   # cold-start items by the content recommender and plain
                                    # similarity rules; A+B = both spaces; --val: validation users
    $S coldfolds base@256 ad256-rare  # the cold-start test over a 10-fold partition of the catalog
    $S onnx base@128                # int8 vs fp32: vector agreement and content NDCG@10
    $S rated mpnet@128 base@128     # content over rated anime only (for slow embedders)
    $S report                       # markdown tables (+ NPS-by-rank plot in WS/study/)

A LABEL is a configuration name (a fine-tuned model) or ``base@N`` (MiniLM as shipped, at
max_seq_length N), or ``mpnet@N``. Configurations whose name starts with ``sel-`` are trained on
the validation split's training users only (``validation_split(protocol_split(r).train)``), so
their validation-user score is an honest basis for choosing a recipe; ``cold-`` ones are trained
without the ratings of the cold-start anime; the rest on the DEV protocol's training users.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from animerec.data.catalog import Catalog
from animerec.data.ratings import Ratings
from animerec.evaluate.split import SEED, Split, protocol_split, validation_split
from animerec.finetune import FinetuneSettings, PairSettings, finetune, read_manifest
from animerec.workspace import Workspace, write_json

COLD_SEED = 7
VAL_COLD_SEED = 8
COLD_FRAC = 0.1
FOLDS = 10
FOLD_SEED = 9
"""The k-fold cold-start test: the catalog split into ``FOLDS`` seeded parts, each in turn new."""
STEPS = 200
"""Optimiser steps of a study run (batch 32: 6,400 pairs). Fixed steps, not a time budget, so a
run does not depend on how busy the machine was."""

BOOK = PairSettings(recipe="book")
TEACHER = PairSettings(recipe="ease", neighbours=3, min_raters=10)


def cfg(
    loss: str = "mnrl",
    pairs: PairSettings = TEACHER,
    *,
    seq: int = 128,
    users: str = "train",
    **ft: Any,
) -> dict[str, Any]:
    ft.setdefault("max_steps", STEPS)
    settings = FinetuneSettings(loss=loss, max_seq_length=seq, **ft)
    return {"settings": settings, "pairs": pairs, "users": users}


def ad(
    loss: str = "mnrl",
    pairs: PairSettings | None = None,
    *,
    seq: int = 128,
    users: str = "train",
    **ft: Any,
) -> dict[str, Any]:
    """An adapter configuration (frozen encoder, trained Dense over cached base vectors)."""
    pairs = pairs or replace(TEACHER, neighbours=10)
    settings = FinetuneSettings(loss=loss, method="adapter", max_seq_length=seq, **ft)
    return {"settings": settings, "pairs": pairs, "users": users}


K10 = replace(TEACHER, neighbours=10)

# The book's recipe: agreement labels, CosineSimilarityLoss, balanced classes, batch 16, 1 epoch.
BOOK_FT = {"batch_size": 16, "learning_rate": 2e-5, "epochs": 1.0, "max_steps": None}

CONFIGS: dict[str, dict[str, Any]] = {
    # --- DEV: the book's recipe vs the teacher recipe, seq 128 --------------------------------------
    "book128": cfg("cosine", BOOK, **BOOK_FT),
    "ease128": cfg("mnrl", TEACHER),
    # --- selection (validation users; trained on the validation split's training users) -------------
    "sel-book": cfg("cosine", BOOK, users="select", **BOOK_FT),
    "sel-ease": cfg("mnrl", TEACHER, users="select"),
    "sel-ease-lr2e-5": cfg("mnrl", TEACHER, users="select", learning_rate=2e-5),
    "sel-ease-lr1e-4": cfg("mnrl", TEACHER, users="select", learning_rate=1e-4),
    "sel-ease-k5": cfg("mnrl", replace(TEACHER, neighbours=5), users="select"),
    "sel-ease-pop": cfg("mnrl", replace(TEACHER, neighbours=5, min_raters=30), users="select"),
    "sel-ease-wide": cfg("mnrl", replace(TEACHER, neighbours=2, min_raters=3), users="select"),
    "sel-ease-mined": cfg("mnrl", replace(TEACHER, hard_negatives="mined"), users="select"),
    "sel-ease-detracted": cfg("mnrl", replace(TEACHER, hard_negatives="detracted"), users="select"),
    "sel-ease-cached128": cfg("mnrl", TEACHER, users="select", batch_size=128, mini_batch_size=32),
    "sel-jaccard": cfg("mnrl", PairSettings(recipe="jaccard"), users="select"),
    "sel-lift": cfg("mnrl", PairSettings(recipe="lift"), users="select"),
    # --- selection: adapters (frozen MiniLM + trained Dense) --------------------------------------
    "sel-ad-book": ad("cosine", BOOK, users="select"),
    "sel-ad-k3": ad("mnrl", TEACHER, users="select"),
    "sel-ad-k10": ad("mnrl", K10, users="select"),
    "sel-ad-k20": ad("mnrl", replace(TEACHER, neighbours=20), users="select"),
    "sel-ad-k10-wide": ad("mnrl", replace(K10, min_raters=3), users="select"),
    "sel-ad-k10-graded": ad("mnrl", replace(K10, ease_graded=True), users="select"),
    "sel-ad-k10-ep100": ad("mnrl", K10, users="select", epochs=100.0),
    "sel-ad-k10-mined": ad("mnrl", replace(K10, hard_negatives="mined"), users="select"),
    "sel-ad-k10-rare": ad("mnrl", replace(K10, hard_negatives="rare"), users="select"),
    "sel-ad-k10-cosine": ad("cosine", K10, users="select"),
    "sel-ad-k10-cosent": ad("cosent", K10, users="select"),
    "sel-ad-jaccard-k10": ad("mnrl", PairSettings(recipe="jaccard", neighbours=10), users="select"),
    "sel-ad-lift-k10": ad("mnrl", PairSettings(recipe="lift", neighbours=10), users="select"),
    # --- DEV: sequence lengths and losses of the chosen recipe --------------------------------------
    "ease256": cfg("mnrl", TEACHER, seq=256),
    "ease384": cfg("mnrl", TEACHER, seq=384),
    "ease512": cfg("mnrl", TEACHER, seq=512),
    "ease128-cosine": cfg("cosine", TEACHER),
    "ease128-cosent": cfg("cosent", TEACHER),
    # --- DEV: the selected recipe (sel-ad-k10) at each sequence length and with each loss --------
    "ad128": ad("mnrl", K10),
    "ad256": ad("mnrl", K10, seq=256),
    "ad384": ad("mnrl", K10, seq=384),
    "ad512": ad("mnrl", K10, seq=512),
    "ad128-cosine": ad("cosine", K10),
    "ad128-cosent": ad("cosent", K10),
    "ad128-book": ad("cosine", BOOK),
    "ad384-rare": ad("mnrl", replace(K10, hard_negatives="rare"), seq=384),
    # --- cold-start items ---------------------------------------------------------------------------
    "cold-ease128": cfg("mnrl", TEACHER, users="cold"),
    "cold-ad128": ad("mnrl", K10, users="cold"),
    "cold-ad256": ad("mnrl", K10, seq=256, users="cold"),
    "cold-ad256-wide": ad("mnrl", replace(K10, min_raters=3), seq=256, users="cold"),
    "cold-ad256-k3": ad("mnrl", TEACHER, seq=256, users="cold"),
    "cold-ad256-ep5": ad("mnrl", K10, seq=256, users="cold", epochs=5.0),
    "cold-ad256-rare": ad("mnrl", replace(K10, hard_negatives="rare"), seq=256, users="cold"),
    # --- cold-start, validation: trained without the cold and the validation-cold anime, on the
    # validation split's training users (choosing a recipe and a rule for new anime) -------------
    "vcold-ease128": cfg("mnrl", TEACHER, users="vcold"),
    "vcold-ad256": ad("mnrl", K10, seq=256, users="vcold"),
    "vcold-ad256-rare": ad("mnrl", replace(K10, hard_negatives="rare"), seq=256, users="vcold"),
}

# --- k-fold cold start: a recipe trained once per fold (``fold<f>-<recipe>``) without that fold ---
FOLD_RECIPES: dict[str, Any] = {
    "ad256": lambda users: ad("mnrl", K10, seq=256, users=users),
    "ad256-rare": lambda users: ad(
        "mnrl", replace(K10, hard_negatives="rare"), seq=256, users=users
    ),
    "ad384": lambda users: ad("mnrl", K10, seq=384, users=users),
    "ad384-rare": lambda users: ad(  # the default recipe (scripts/main.sh)
        "mnrl", replace(K10, hard_negatives="rare"), seq=384, users=users
    ),
}
for _f in range(FOLDS):
    for _recipe, _make in FOLD_RECIPES.items():
        CONFIGS[f"fold{_f}-{_recipe}"] = _make(f"fold{_f}")


def ensure_registered() -> None:
    """Content and hybrid under their names in the recommender registry (if not there yet)."""
    from animerec.recommend import registry
    from animerec.recommend.content import ContentRecommender
    from animerec.recommend.hybrid import HybridRecommender

    for cls in (ContentRecommender, HybridRecommender):
        registry.RECOMMENDERS.setdefault(cls.name, cls)


# --- data ----------------------------------------------------------------------------------------
class Study:
    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.ratings = Ratings.read(ws.ratings)
        self.catalog = Catalog.read(ws.anime)
        self.split = protocol_split(self.ratings, seed=SEED)
        self.out = ws.sub("study")

    # users and ratings a configuration trains on
    def training_data(self, users: str) -> tuple[Ratings, np.ndarray]:
        if users == "train":
            return self.ratings, self.split.train_users
        if users == "select":
            return self.ratings, self.selection_split().train_users
        if users == "cold":
            keep = ~np.isin(self.ratings.anime_id, self.cold_items())
            return self.ratings.take(keep), self.split.train_users
        if users == "vcold":
            gone = np.union1d(self.cold_items(), self.val_cold_items())
            keep = ~np.isin(self.ratings.anime_id, gone)
            return self.ratings.take(keep), self.val_cold_split().train_users
        if users.startswith("fold"):
            keep = ~np.isin(self.ratings.anime_id, self.fold_items(int(users[4:])))
            return self.ratings.take(keep), self.split.train_users
        raise ValueError(users)

    def selection_split(self) -> Split:
        """The validation split of the training users (what tuning uses; seed 43)."""
        return validation_split(self.split.train)

    def cold_items(self) -> np.ndarray:
        """A seeded 10% of the catalog's anime: all their ratings leave training."""
        ids = self.catalog.anime_ids
        n = round(COLD_FRAC * len(ids))
        return np.sort(np.random.default_rng(COLD_SEED).choice(ids, n, replace=False))

    def val_cold_items(self) -> np.ndarray:
        """Another seeded 10% of the catalog (outside the cold anime): the validation users'
        new anime, so choices about cold start are made without the test users."""
        ids = np.setdiff1d(self.catalog.anime_ids, self.cold_items())
        n = round(COLD_FRAC * len(self.catalog.anime_ids))
        return np.sort(np.random.default_rng(VAL_COLD_SEED).choice(ids, n, replace=False))

    def val_cold_split(self) -> Split:
        """The validation split of the cold split's training users, with every rating of the
        validation-cold anime removed from its training part and from its users' histories."""
        cold_train = self.split.train.take(~np.isin(self.split.train.anime_id, self.cold_items()))
        return _without(validation_split(cold_train), self.val_cold_items())

    def fold_items(self, fold: int) -> np.ndarray:
        """Fold ``fold`` of a seeded partition of the catalog into ``FOLDS`` parts."""
        perm = np.random.default_rng(FOLD_SEED).permutation(self.catalog.anime_ids)
        return np.sort(perm[fold::FOLDS])

    def fold_split(self, fold: int) -> Split:
        """The DEV split without every rating of fold ``fold``'s anime (as :meth:`cold_split`)."""
        return _without(self.split, self.fold_items(fold))

    def cold_split(self) -> Split:
        """The DEV split with every rating of the cold anime removed from training and from the
        test users' histories (their held-out ratings stay: they are the answers)."""
        return _without(self.split, self.cold_items())


def _without(s: Split, cold: np.ndarray) -> Split:
    """``s`` with every rating of ``cold`` removed from training and from the histories (the
    held-out ones stay: they are the answers); users left without a history are dropped."""
    history = s.history.take(~np.isin(s.history.anime_id, cold))
    users = np.intersect1d(s.test_users, history.users)
    heldout = s.heldout.take(np.isin(s.heldout.user_id, users))
    return Split(
        train_users=s.train_users,
        test_users=users,
        train=s.train.take(~np.isin(s.train.anime_id, cold)),
        history=history.take(np.isin(history.user_id, users)),
        heldout=heldout,
    )


def new_anime(split: Split, catalog: Catalog) -> np.ndarray:
    """Ids of the catalog's anime that no training user of ``split`` rated (sorted)."""
    return np.setdiff1d(catalog.anime_ids, np.unique(split.train.anime_id))


def parse_label(label: str) -> tuple[str, int | None]:
    """``base@128`` → (``minilm``, 128); ``mpnet@384``; a fine-tuned name → (name, None)."""
    if "@" in label:
        name, seq = label.split("@", 1)
        return ("minilm" if name == "base" else name), int(seq)
    return label, None


def content_params(study: Study, label: str) -> dict[str, Any]:
    name, seq = parse_label(label)
    return {"embedder": name, "max_seq_length": seq}


# --- steps -----------------------------------------------------------------------------------------
def train(study: Study, names: list[str]) -> None:
    for name in names:
        c = CONFIGS[name]
        path = study.ws.models_dir / name
        if (path / "manifest.json").exists():
            m = read_manifest(path)
            print(f"{name}: already trained ({m['steps']} steps, {m['wall_s']} s) — skipped")
            continue
        ratings, users = study.training_data(c["users"])
        finetune(
            ratings,
            study.catalog,
            users,
            name,
            workspace=study.ws,
            settings=c["settings"],
            pairs=c["pairs"],
            users_label=c["users"],
        )


def _user_metrics(
    ids: np.ndarray, split: Split, users: np.ndarray, k: int = 10, cold: np.ndarray | None = None
) -> dict[str, list]:
    """Each counted user's NDCG and HR of the lists ``ids`` (for paired deltas); with ``cold``
    (the cold-start anime), against the relevant cold ones only."""
    from animerec.evaluate.metrics import lookup_heldout, ranking_metrics

    m = ranking_metrics(lookup_heldout(ids, split.heldout, users, relevant_items=cold), users, k)
    return {"users": m.users.tolist(), "ndcg": m.ndcg.tolist(), "hr": m.hr.tolist()}


def _per_user(
    result, split: Split, users: np.ndarray, k: int = 10, cold: np.ndarray | None = None
) -> dict[str, list]:
    """:func:`_user_metrics` of a result's lists (its cold-start lists with ``cold``)."""
    ids = result.recommended if cold is None else result.recommended_cold
    return _user_metrics(ids, split, users, k, cold)


def _evaluate(
    study: Study,
    label: str,
    step: str,
    models: list[str],
    ratings: Ratings,
    split: Split,
    tune: bool,
    extra_params: dict[str, Any] | None = None,
) -> None:
    from animerec.data.ratings import histories_from_ratings
    from animerec.evaluate.report import metrics_dict
    from animerec.evaluate.runner import evaluate

    target = study.out / step / f"{label}.json"
    if target.exists():
        print(f"{step} {label}: done — skipped ({target})")
        return
    params = {m: {**content_params(study, label), **(extra_params or {})} for m in models}
    t0 = time.perf_counter()
    ev = evaluate(
        models,
        ratings,
        study.catalog,
        workspace=study.ws,
        split=split,
        tune_models=tune,
        params=params,
        log=lambda msg: print(f"  {msg}", flush=True),
    )
    users, _ = histories_from_ratings(split.history)
    out = metrics_dict(ev, {"label": label, "step": step, "params": params})
    out["per_user"] = {r.model: _per_user(r, split, users) for r in ev.results}
    if step.startswith("coldstart"):
        cold = new_anime(split, study.catalog)
        out["per_user_cold"] = {r.model: _per_user(r, split, users, cold=cold) for r in ev.results}
    out["wall_s"] = round(time.perf_counter() - t0, 1)
    manifest = _model_manifest(study, label)
    if manifest:
        out["finetune"] = {
            k: manifest.get(k)
            for k in ("steps", "train_s", "wall_s", "validation", "pairs", "recipe")
        }
    write_json(target, out)
    for r in ev.results:
        print(
            f"{step} {label} {r.model}: NDCG@10 {r.ndcg.mean:.4f} [{r.ndcg.low:.4f}, "
            f"{r.ndcg.high:.4f}]  HR@10 {r.hr.mean:.3f}  NPS {r.nps.value:+.3f} (n={r.nps.n})  "
            f"cold NDCG {r.cold.get('ndcg', {}).get('mean', float('nan')):.4f}",
            flush=True,
        )


def _model_manifest(study: Study, label: str) -> dict[str, Any]:
    name, seq = parse_label(label)
    path = study.ws.models_dir / name
    return read_manifest(path) if seq is None and path.exists() else {}


def encode(study: Study, labels: list[str], device: str | None = None) -> None:
    """Fill the embedding cache with every catalog description for each embedder."""
    from animerec.embed.cache import catalog_embeddings
    from animerec.embed.registry import get_embedder

    for label in labels:
        name, seq = parse_label(label)
        embedder = get_embedder(name, workspace=study.ws, max_seq_length=seq, device=device)
        t0 = time.perf_counter()
        v = catalog_embeddings(embedder, study.catalog, study.ws, progress=True)
        print(f"encode {label} ({embedder.name}): {v.shape} in {time.perf_counter() - t0:.0f} s")


def extend(study: Study, labels: list[str], source: str, check: int = 24) -> None:
    """Encode the catalog at a longer ``max_seq_length`` by encoding only the texts it changes.

    A description of at most M tokens is encoded from exactly the same tokens at any limit ≥ M,
    so its vector at 384 or 512 is its vector at 256; only the ~11% of descriptions longer than
    ``source``'s limit are encoded again. ``check`` of the copied texts are re-encoded at the new
    length to show the vectors agree (cosine printed).
    """
    from animerec.embed.cache import EmbeddingCache, cached_encode
    from animerec.embed.registry import get_embedder
    from animerec.text import describe, load_tokenizer, text_hash, token_lengths

    src_name, src_seq = parse_label(source)
    cache = EmbeddingCache(study.ws)
    texts = describe(study.catalog, "clean")
    lengths = token_lengths(texts, load_tokenizer(src_name, study.ws))
    short = lengths <= src_seq
    src = get_embedder(src_name, workspace=study.ws, max_seq_length=src_seq)
    src_vectors = cached_encode(src, texts, cache)  # all cached already: no encoding
    for label in labels:
        name, seq = parse_label(label)
        if name != src_name or seq <= src_seq:
            raise SystemExit(f"extend: {label} must be {src_name}@N with N > {src_seq}")
        embedder = get_embedder(name, workspace=study.ws, max_seq_length=seq)
        idx = np.flatnonzero(short)
        keys = [text_hash(texts[i]) for i in idx]
        cache.add(embedder.name, keys, src_vectors[idx], getattr(embedder, "fingerprint", None))
        t0 = time.perf_counter()
        long_texts = [t for t, ok in zip(texts, short, strict=True) if not ok]
        cached_encode(embedder, long_texts, cache, progress=True)
        sample = np.random.default_rng(SEED).choice(idx, min(check, len(idx)), replace=False)
        again = embedder.encode([texts[i] for i in sample])
        cos = np.sum(again * src_vectors[sample], axis=1)
        print(
            f"extend {label}: {len(idx):,} texts ≤ {src_seq} tokens copied from {source}, "
            f"{len(long_texts):,} encoded in {time.perf_counter() - t0:.0f} s; re-encoded check "
            f"of {len(sample)} copied: min cosine {cos.min():.6f}",
            flush=True,
        )


def masked_vectors(study: Study, embedder, texts: list[str], mask: np.ndarray):
    """Catalog-shaped vectors with only ``mask``'s anime encoded (the rest zero: never
    recommended, no neighbours), and the seconds it took (cache hits are free)."""
    from animerec.embed.cache import EmbeddingCache, cached_encode

    v = np.zeros((len(study.catalog), embedder.dim), np.float32)
    todo = [t for t, keep in zip(texts, mask, strict=True) if keep]
    t0 = time.perf_counter()
    v[mask] = cached_encode(embedder, todo, EmbeddingCache(study.ws), progress=True)
    return v, time.perf_counter() - t0


def rated_setup(study: Study) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Descriptions, the mask of anime some sample user rated, and the DEV history users."""
    from animerec.data.ratings import histories_from_ratings
    from animerec.text import describe

    mask = np.isin(study.catalog.anime_ids, np.unique(study.ratings.anime_id))
    users, _ = histories_from_ratings(study.split.history)
    return describe(study.catalog, "clean"), mask, users


def pending(study: Study, step: str, label: str) -> Path | None:
    """Where ``step``'s result for ``label`` goes, or None when it is there already."""
    target = study.out / step / f"{label}.json"
    if target.exists():
        print(f"{step} {label}: done — skipped ({target})")
        return None
    return target


def onnx(study: Study, labels: list[str]) -> None:
    """int8 vs fp32 as the content recommender on DEV: vector agreement and NDCG@10.

    Both encode the anime some user of the sample rated (the only ones a history can hold or a
    held-out answer can be; unrated anime get zero vectors and are never recommended:
    ``min_item_raters=1``), with the content defaults (no tuning), so the two differ only in the
    encoder's arithmetic.
    """
    from animerec.embed.registry import get_embedder
    from animerec.evaluate.report import metrics_dict
    from animerec.evaluate.runner import evaluate
    from animerec.recommend.content import ContentRecommender, neighbour_table

    texts, rated, users = rated_setup(study)
    for label in labels:
        target = pending(study, "onnx", label)
        if target is None:
            continue
        name, seq = parse_label(label)
        vectors, speed = {}, {}
        for backend in ("torch", "onnx-int8"):
            emb = get_embedder(name, workspace=study.ws, max_seq_length=seq, backend=backend)
            vectors[backend], speed[backend] = masked_vectors(study, emb, texts, rated)
        a, b = vectors["torch"][rated], vectors["onnx-int8"][rated]
        cos = np.sum(a * b, axis=1)
        na, _ = neighbour_table(a, 10)
        nb, _ = neighbour_table(b, 10)
        overlap = np.mean([len(set(x) & set(y)) / 10 for x, y in zip(na, nb, strict=True)])
        models = [
            ContentRecommender(ContentRecommender.Params(min_item_raters=1), vectors=vectors[bk])
            for bk in ("torch", "onnx-int8")
        ]
        ev = evaluate(models, study.ratings, study.catalog, split=study.split, tune_models=False)
        out = metrics_dict(ev, {"label": label, "step": "onnx"})
        for r, bk in zip(out["results"], ("torch", "onnx-int8"), strict=True):
            r["model"] = f"content[{bk}]"
        out["per_user"] = {
            f"content[{bk}]": _per_user(r, study.split, users)
            for r, bk in zip(ev.results, ("torch", "onnx-int8"), strict=True)
        }
        out["agreement"] = {
            "texts": int(rated.sum()),
            "mean_cosine": float(cos.mean()),
            "min_cosine": float(cos.min()),
            "top10_overlap": float(overlap),
            "encode_s": speed,
        }
        write_json(target, out)
        d, lo, hi = paired_delta(
            out["per_user"]["content[torch]"], out["per_user"]["content[onnx-int8]"]
        )
        for r, bk in zip(ev.results, ("torch", "onnx-int8"), strict=True):
            print(
                f"onnx {label} {bk}: NDCG@10 {r.ndcg.mean:.4f} [{r.ndcg.low:.4f}, "
                f"{r.ndcg.high:.4f}]  HR@10 {r.hr.mean:.3f}  NPS {r.nps.value:+.3f}",
                flush=True,
            )
        print(
            f"onnx {label}: mean cosine {cos.mean():.4f} (min {cos.min():.4f}), top-10 overlap "
            f"{overlap:.3f} over {rated.sum():,} texts; paired Δ NDCG int8 − fp32 {d:+.4f} "
            f"[{lo:+.4f}, {hi:+.4f}]",
            flush=True,
        )


def rated(study: Study, labels: list[str]) -> None:
    """Content on DEV over the rated anime only, untuned (as :func:`onnx` scores fp32), for
    embedders too slow to encode the whole catalog on a CPU (mpnet: 2–7 texts/s)."""
    from animerec.embed.registry import get_embedder
    from animerec.evaluate.report import metrics_dict
    from animerec.evaluate.runner import evaluate
    from animerec.recommend.content import ContentRecommender

    texts, mask, users = rated_setup(study)
    for label in labels:
        target = pending(study, "rated", label)
        if target is None:
            continue
        name, seq = parse_label(label)
        emb = get_embedder(name, workspace=study.ws, max_seq_length=seq)
        vectors, seconds = masked_vectors(study, emb, texts, mask)
        model = ContentRecommender(ContentRecommender.Params(min_item_raters=1), vectors=vectors)
        ev = evaluate([model], study.ratings, study.catalog, split=study.split, tune_models=False)
        out = metrics_dict(ev, {"label": label, "step": "rated", "encode_s": seconds})
        out["per_user"] = {"content": _per_user(ev.results[0], study.split, users)}
        write_json(target, out)
        r = ev.results[0]
        print(
            f"rated {label}: NDCG@10 {r.ndcg.mean:.4f} [{r.ndcg.low:.4f}, {r.ndcg.high:.4f}]  "
            f"HR@10 {r.hr.mean:.3f}  NPS {r.nps.value:+.3f} (n={r.nps.n}); encoded in {seconds:.0f} s",
            flush=True,
        )


SELECT_NEIGHBOURS = (10, 20)


def select(study: Study, labels: list[str]) -> None:
    """Content on the validation users of the training split (model selection).

    To spare CPU, only anime some training user rated are encoded and recommendable
    (``min_item_raters=1``); content's two best neighbour counts on DEV tuning are both scored
    and the better one counts. The same for every embedder, so the comparison is fair.
    """
    from animerec.data.ratings import histories_from_ratings
    from animerec.embed.registry import get_embedder
    from animerec.evaluate.report import metrics_dict
    from animerec.evaluate.runner import evaluate
    from animerec.recommend.content import ContentRecommender
    from animerec.text import describe

    vs = study.selection_split()
    users, _ = histories_from_ratings(vs.history)
    texts = describe(study.catalog, "clean")
    rated = np.isin(study.catalog.anime_ids, np.unique(study.split.train.anime_id))
    for label in labels:
        target = study.out / "select" / f"{label}.json"
        if target.exists():
            print(f"select {label}: done — skipped ({target})")
            continue
        name, seq = parse_label(label)
        embedder = get_embedder(name, workspace=study.ws, max_seq_length=seq)
        vectors, _ = masked_vectors(study, embedder, texts, rated)
        models = [
            ContentRecommender(
                ContentRecommender.Params(neighbours=n, min_item_raters=1), vectors=vectors
            )
            for n in SELECT_NEIGHBOURS
        ]
        ev = evaluate(models, study.split.train, study.catalog, split=vs, tune_models=False)
        out = metrics_dict(ev, {"label": label, "step": "select", "neighbours": SELECT_NEIGHBOURS})
        for r, n in zip(out["results"], SELECT_NEIGHBOURS, strict=True):
            r["model"] = f"content-n{n}"
        out["per_user"] = {
            f"content-n{n}": _per_user(r, vs, users)
            for r, n in zip(ev.results, SELECT_NEIGHBOURS, strict=True)
        }
        manifest = _model_manifest(study, label)
        if manifest:
            out["finetune"] = {
                k: manifest.get(k)
                for k in ("steps", "train_s", "wall_s", "validation", "pairs", "recipe")
            }
        write_json(target, out)
        for r, n in zip(ev.results, SELECT_NEIGHBOURS, strict=True):
            print(
                f"select {label} n={n}: NDCG@10 {r.ndcg.mean:.4f} [{r.ndcg.low:.4f}, "
                f"{r.ndcg.high:.4f}]  HR@10 {r.hr.mean:.3f}  NPS {r.nps.value:+.3f}",
                flush=True,
            )


def dev(study: Study, labels: list[str], hybrid: bool) -> None:
    models = ["content", "hybrid"] if hybrid else ["content"]
    for label in labels:
        step = "dev-hybrid" if hybrid else "dev"
        _evaluate(study, label, step, models, study.ratings, study.split, tune=True)


def dev_both(study: Study, labels: list[str]) -> None:
    """The hybrid with two content members: base MiniLM at the fine-tuned model's length and the
    fine-tuned model (``members=("ease", "content", "content/ft")``)."""
    for label in labels:
        seq = read_manifest(study.ws.models_dir / label)["max_seq_length"]
        extra = {
            "embedder": "minilm",
            "max_seq_length": seq,
            "members": ("ease", "content", "content/ft"),
            "member_params": {"content/ft": {"embedder": label}},
        }
        _evaluate(study, label, "dev-both", ["hybrid"], study.ratings, study.split, True, extra)


def coldstart(study: Study, labels: list[str], cf: bool) -> None:
    split = study.cold_split()
    print(
        f"cold-start: {len(study.cold_items()):,} anime removed from training; "
        f"{len(split.test_users)} test users"
    )
    if cf:
        _evaluate(
            study, "cf", "coldstart", ["ease", "als", "popularity"], study.ratings, split, tune=True
        )
    for label in labels:
        _evaluate(study, label, "coldstart", ["content"], study.ratings, split, tune=True)


COLD_RULES = ("content", "centroid", "max", "top3")
COLD_CONTENT = {"neighbours": 3, "min_rating": 9}
"""Content settings for new anime: what tuning picks on the cold split for every embedder."""


def label_vectors(study: Study, label: str) -> np.ndarray:
    """Unit vectors of the catalog for ``label``; ``A+B`` concatenates A's and B's (each half
    weighted equally, so a pair's cosine is the mean of the two spaces' cosines)."""
    from animerec.recommend.content import ContentRecommender
    from animerec.recommend.context import Context

    parts = []
    for part in label.split("+"):
        name, seq = parse_label(part)
        params = ContentRecommender.Params(embedder=name, max_seq_length=seq)
        content = ContentRecommender(params, context=Context(study.ws))
        parts.append(content.catalog_vectors(study.catalog))
    return (np.hstack(parts) / np.sqrt(len(parts))).astype(np.float32)


def coldscore(study: Study, labels: list[str], val: bool = False) -> None:
    """Cold-start items ranked by the content recommender (3 neighbours, promoters ≥ 9: the
    values tuning picks on the cold split for every embedder) and by plain similarity rules: each
    cold anime scored by its similarity to the mean of the user's promoted anime
    (``centroid``), to the closest one (``max``) or by the sum of its 3 highest similarities
    (``top3``). With ``val``, on the validation users of the training users, whose new anime are
    a second seeded 10% (``vcold-*`` models never saw them): where a rule and a recipe for new
    anime are chosen before the test users are looked at."""
    from animerec.data.ratings import histories_from_ratings
    from animerec.recommend import mask_seen, top_k
    from animerec.recommend.content import ContentRecommender

    step = "coldscore-val" if val else "coldscore"
    split, cat = (study.val_cold_split() if val else study.cold_split()), study.catalog
    cold_ids = new_anime(split, cat)
    cold = np.isin(cat.anime_ids, cold_ids)
    users, hist = histories_from_ratings(split.history)
    for label in labels:
        tuned = [p for p in label.split("+") if parse_label(p)[1] is None]
        if val and any(not p.startswith("vcold-") for p in tuned):
            sys.exit(f"{label}: validation needs vcold-* models (the others saw its users)")
        target = pending(study, step, label)
        if target is None:
            continue
        vectors = label_vectors(study, label)
        params = ContentRecommender.Params(**COLD_CONTENT)
        model = ContentRecommender(params, vectors=vectors).fit(split.train, cat)
        row, pos = model.liked(hist)
        cold_vectors = vectors[cold]
        out: dict[str, Any] = {"label": label, "step": step, "per_user_cold": {}}
        for how in COLD_RULES:
            if how == "content":
                scores = model.score(hist)
                scores[:, ~cold] = -np.inf
            else:
                scores = np.full((len(hist), len(cat)), -np.inf, np.float32)
                for u in range(len(hist)):
                    sims = vectors[pos[row == u]] @ cold_vectors.T  # [promoted, cold]
                    if how == "centroid":
                        scores[u, cold] = sims.mean(axis=0)
                    elif how == "max":
                        scores[u, cold] = sims.max(axis=0)
                    else:
                        scores[u, cold] = np.sort(sims, axis=0)[-3:].sum(axis=0)
            mask_seen(scores, hist, cat)
            ids = cat.anime_ids[top_k(scores, 10)]
            m = out["per_user_cold"][how] = _user_metrics(ids, split, users, cold=cold_ids)
            print(
                f"{step} {label} {how}: cold NDCG@10 {np.mean(m['ndcg']):.4f}  "
                f"HR@10 {np.mean(m['hr']):.3f}  ({len(m['users'])} users)",
                flush=True,
            )
        write_json(target, out)


def coldfolds(study: Study, labels: list[str]) -> None:
    """The cold-start item test repeated over a partition of the catalog: each of ``FOLDS``
    seeded parts in turn loses every rating (training, teacher, tuning, histories) and is ranked
    among the anime no training user rated, by the content recommender (3 neighbours, promoters
    ≥ 9, as in :func:`coldscore`). Every relevant held-out anime is new in exactly one fold, so
    the comparison rests on ~10× the users of the single split. A LABEL is ``base@N`` or a
    recipe of :data:`FOLD_RECIPES`, trained once per fold as ``fold<f>-<recipe>``."""
    from animerec.data.ratings import histories_from_ratings
    from animerec.recommend import mask_seen, top_k
    from animerec.recommend.content import ContentRecommender

    cat = study.catalog
    for label in labels:
        if parse_label(label)[1] is None and label not in FOLD_RECIPES:
            sys.exit(f"{label}: not base@N / mpnet@N nor one of {', '.join(FOLD_RECIPES)}")
        target = study.out / "coldfolds" / f"{label}.json"
        done = json.loads(target.read_text()) if target.exists() else {"label": label, "folds": []}
        base = parse_label(label)[1] is not None
        for f in range(len(done["folds"]), FOLDS):
            model_label = label if base else f"fold{f}-{label}"
            if not base:
                train(study, [model_label])
            split = study.fold_split(f)
            cold_ids = new_anime(split, cat)
            users, hist = histories_from_ratings(split.history)
            vectors = label_vectors(study, model_label)
            params = ContentRecommender.Params(**COLD_CONTENT)
            scores = ContentRecommender(params, vectors=vectors).fit(split.train, cat).score(hist)
            scores[:, ~np.isin(cat.anime_ids, cold_ids)] = -np.inf
            mask_seen(scores, hist, cat)
            m = _user_metrics(cat.anime_ids[top_k(scores, 10)], split, users, cold=cold_ids)
            done["folds"].append(m)
            write_json(target, done)
            print(
                f"coldfolds {label} fold {f}: cold NDCG@10 {np.mean(m['ndcg']):.4f}  "
                f"HR@10 {np.mean(m['hr']):.3f}  ({len(m['users'])} users)",
                flush=True,
            )


def pooled_delta(
    a: list[dict], b: list[dict], metric: str = "ndcg", n: int = 1000, seed: int = SEED
) -> tuple[float, float, float, int]:
    """Mean difference b − a over every (fold, user) both counted, with a 95% bootstrap CI that
    resamples users (a user's folds stay together: they share one history); and the unit count."""
    users, diffs = [], []
    for fa, fb in zip(a, b, strict=False):
        common, ia, ib = np.intersect1d(fa["users"], fb["users"], return_indices=True)
        users.append(common)
        diffs.append(np.asarray(fb[metric])[ib] - np.asarray(fa[metric])[ia])
    u, d = np.concatenate(users), np.concatenate(diffs)
    if len(d) == 0:
        return float("nan"), float("nan"), float("nan"), 0
    ids, inv = np.unique(u, return_inverse=True)
    sums, counts = np.bincount(inv, d), np.bincount(inv)
    idx = np.random.default_rng(seed).integers(0, len(ids), (n, len(ids)))
    means = sums[idx].sum(axis=1) / counts[idx].sum(axis=1)
    lo, hi = np.quantile(means, [0.025, 0.975])
    return float(d.mean()), float(lo), float(hi), len(d)


# --- the report ------------------------------------------------------------------------------------
def _load(study: Study, step: str) -> dict[str, dict]:
    folder = study.out / step
    return (
        {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}
        if folder.exists()
        else {}
    )


def paired_delta(
    a: dict, b: dict, metric: str = "ndcg", n: int = 1000, seed: int = SEED
) -> tuple[float, float, float]:
    """Mean per-user difference b − a over the users both counted, with a 95% bootstrap CI."""
    ua, ub = np.asarray(a["users"]), np.asarray(b["users"])
    common, ia, ib = np.intersect1d(ua, ub, return_indices=True)
    d = np.asarray(b[metric])[ib] - np.asarray(a[metric])[ia]
    if len(d) == 0:
        return float("nan"), float("nan"), float("nan")
    idx = np.random.default_rng(seed).integers(0, len(d), (n, len(d)))
    means = d[idx].mean(axis=1)
    return float(d.mean()), float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def _ci(x: dict) -> str:
    return f"{x['mean']:.3f} [{x['low']:.3f}, {x['high']:.3f}]"


def _row(label: str, r: dict, base: dict | None, model: str, data: dict) -> str:
    nps = r["nps"]
    nps_ci = r.get("nps_ci") or {}
    delta = ""
    if base is not None and model in base["per_user"] and label != base["label"]:
        d, lo, hi = paired_delta(base["per_user"][model], data["per_user"][model])
        delta = f"{d:+.3f} [{lo:+.3f}, {hi:+.3f}]"
    ft = data.get("finetune") or {}
    steps = ft.get("steps", "–")
    sp = (ft.get("validation") or {}).get("after")
    sp_before = (ft.get("validation") or {}).get("before")
    spear = f"{sp_before:.3f} → {sp:.3f}" if sp is not None and sp_before is not None else "–"
    nps_txt = f"{nps['value']:+.3f}" if nps["value"] is not None else "–"
    if nps_ci.get("low") is not None:
        nps_txt += f" [{nps_ci['low']:+.3f}, {nps_ci['high']:+.3f}]"
    return (
        f"| {label} | {steps} | {_ci(r['ndcg'])} | {delta or '–'} | {_ci(r['hr'])} | "
        f"{nps_txt} (n={nps['n']}) | {spear} |"
    )


def _label_seq(study: Study, label: str) -> int | None:
    seq = parse_label(label)[1]
    return seq if seq is not None else _model_manifest(study, label).get("max_seq_length")


def _cold_delta(study: Study, cold: dict, label: str, data: dict, model: str) -> str:
    """Paired Δ cold NDCG@10 of a fine-tuned model vs base MiniLM at its sequence length."""
    seq = _model_manifest(study, label).get("max_seq_length")
    base = cold.get(f"base@{seq}") if seq else None
    if base is None or "per_user_cold" not in data or "per_user_cold" not in base:
        return "–"
    d, lo, hi = paired_delta(base["per_user_cold"]["content"], data["per_user_cold"][model])
    return f"{d:+.3f} [{lo:+.3f}, {hi:+.3f}]"


def report(study: Study, base_label: str) -> None:
    header = (
        "| embedder | steps | NDCG@10 [95% CI] | paired Δ NDCG vs base | HR@10 | NPS@10 [95% CI] | "
        "val Spearman |\n|---|---|---|---|---|---|---|"
    )
    for step, models in (
        ("select", [f"content-n{n}" for n in SELECT_NEIGHBOURS]),
        ("dev", ["content"]),
        ("dev-hybrid", ["content", "hybrid"]),
        ("coldstart", ["content"]),
    ):
        runs = _load(study, step)
        if not runs:
            continue
        for model in models:
            print(f"\n### {step}: {model}\n\n{header}")
            base = runs.get(base_label) or runs.get(base_label.replace("@", "_"))
            for label, data in runs.items():
                for r in data["results"]:
                    if r["model"] == model:
                        print(_row(label, r, base, model, data))
    cold = _load(study, "coldstart")
    if cold:
        print("\n### cold-start items (recommending among anime no training user rated)\n")
        print(
            "| run | model | cold NDCG@10 [95% CI] | paired Δ vs base MiniLM, same length | "
            "cold HR@10 | users served | relevant held-out |"
        )
        print("|---|---|---|---|---|---|---|")
        for label, data in cold.items():
            for r in data["results"]:
                c = r["cold"]
                print(
                    f"| {label} | {r['model']} | {_ci(c['ndcg'])} | "
                    f"{_cold_delta(study, cold, label, data, r['model'])} | {_ci(c['hr'])} | "
                    f"{c['n_users_served']} | {c['n_heldout_relevant']} |"
                )
    for step in ("coldscore-val", "coldscore"):
        scored = _load(study, step)
        if not scored:
            continue
        print(f"\n### cold-start items by rule ({step})\n")
        print("| run | rule | cold NDCG@10 | paired Δ vs base MiniLM, same length and rule |")
        print("|---|---|---|---|")
        for label, data in scored.items():
            seqs = {_label_seq(study, p) for p in label.split("+")}
            base = scored.get(f"base@{seqs.pop()}") if len(seqs) == 1 else None
            for how, per_user in data["per_user_cold"].items():
                delta = "–"
                if base is not None and base is not data and how in base["per_user_cold"]:
                    d, lo, hi = paired_delta(base["per_user_cold"][how], per_user)
                    delta = f"{d:+.3f} [{lo:+.3f}, {hi:+.3f}]"
                print(f"| {label} | {how} | {np.mean(per_user['ndcg']):.3f} | {delta} |")
    report_folds(study)
    plot_buckets(study)


def report_folds(study: Study) -> None:
    """The k-fold cold-start table: pooled over folds, Δ vs base MiniLM at the same length."""
    runs = _load(study, "coldfolds")
    if not runs:
        return
    print(f"\n### cold-start items over {FOLDS} folds of the catalog (coldfolds)\n")
    print(
        "| run | folds | (fold, user) units | cold NDCG@10 | cold HR@10 | "
        "pooled Δ NDCG vs base MiniLM, same length [95% CI, users resampled] |"
    )
    print("|---|---|---|---|---|---|")
    for label, data in runs.items():
        folds = data["folds"]
        seq = _label_seq(study, label if "@" in label else f"fold0-{label}")
        base = runs.get(f"base@{seq}")
        delta = "–"
        if base is not None and base is not data:
            d, lo, hi, _ = pooled_delta(base["folds"], folds)
            delta = f"{d:+.4f} [{lo:+.4f}, {hi:+.4f}]"
        ndcg = np.concatenate([f["ndcg"] for f in folds])
        hr = np.concatenate([f["hr"] for f in folds])
        print(
            f"| {label} | {len(folds)} | {len(ndcg):,} | {ndcg.mean():.4f} | {hr.mean():.3f} | "
            f"{delta} |"
        )


def plot_buckets(study: Study) -> None:
    """The book's NPS by rank bucket for every DEV run (content and hybrid)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = []
    for step in ("dev", "dev-hybrid"):
        for label, data in _load(study, step).items():
            for r in data["results"]:
                if step == "dev-hybrid" and r["model"] == "content":
                    continue
                rows.append((f"{r['model']}[{label}]", r["nps_buckets"]))
    if not rows:
        return
    buckets = list(rows[0][1])
    x = np.arange(len(rows))
    width = 0.8 / len(buckets)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(rows) + 2), 4.0))
    for i, b in enumerate(buckets):
        vals = [(r[b]["value"] if r[b]["value"] is not None else np.nan) for _, r in rows]
        ax.bar(x + (i - (len(buckets) - 1) / 2) * width, vals, width, label=f"ranks {b}")
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks(x, [n for n, _ in rows], rotation=35, ha="right", fontsize=8)
    ax.set_ylabel("NPS (−1 … 1)")
    ax.set_title("NPS by rank bucket (DEV test users, rated recommendations)")
    ax.legend()
    fig.tight_layout()
    path = study.out / "nps_by_rank_bucket.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    print(f"\nNPS by rank bucket: {path}")
    print("\n| run | " + " | ".join(f"ranks {b}" for b in buckets) + " |")
    print("|---|" + "---|" * len(buckets))
    for name, r in rows:
        cells = [
            f"{r[b]['value']:+.3f} (n={r[b]['n']})" if r[b]["value"] is not None else "–"
            for b in buckets
        ]
        print(f"| {name} | " + " | ".join(cells) + " |")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--workspace", "-w", required=True, type=Path)
    ap.add_argument(
        "step",
        choices=[
            "list",
            "train",
            "encode",
            "extend",
            "select",
            "dev",
            "coldstart",
            "coldscore",
            "coldfolds",
            "dev-both",
            "onnx",
            "rated",
            "report",
        ],
    )
    ap.add_argument("names", nargs="*")
    ap.add_argument("--hybrid", action="store_true", help="dev: also the hybrid with each embedder")
    ap.add_argument("--cf", action="store_true", help="coldstart: also EASE, ALS and popularity")
    ap.add_argument("--val", action="store_true", help="coldscore: on the validation users")
    ap.add_argument("--device", default=None, help="encode: cpu, cuda… (default cpu)")
    ap.add_argument("--base", default="base@128", help="report: the label deltas are taken against")
    ap.add_argument("--source", default="base@256", help="extend: the shorter length to copy from")
    a = ap.parse_intermixed_args(argv)
    if a.step == "list":
        for name, c in CONFIGS.items():
            s, p = c["settings"], c["pairs"]
            print(
                f"{name:22s} users={c['users']:6s} {s.method:7s} loss={s.loss:6s} seq={s.max_seq_length} "
                f"batch={s.batch_size} lr={s.learning_rate:g} recipe={p.recipe} "
                f"k={p.neighbours} min_raters={p.min_raters} negatives={p.hard_negatives}"
            )
        return
    ensure_registered()
    study = Study(Workspace(a.workspace))
    if a.step == "train":
        unknown = [n for n in a.names if n not in CONFIGS]
        if unknown:
            sys.exit(f"unknown configuration(s): {', '.join(unknown)}")
        train(study, a.names)
    elif a.step == "encode":
        encode(study, a.names, a.device)
    elif a.step == "extend":
        extend(study, a.names, a.source)
    elif a.step == "rated":
        rated(study, a.names)
    elif a.step == "onnx":
        onnx(study, a.names)
    elif a.step == "select":
        select(study, a.names)
    elif a.step == "dev":
        dev(study, a.names, a.hybrid)
    elif a.step == "dev-both":
        dev_both(study, a.names)
    elif a.step == "coldstart":
        coldstart(study, a.names, a.cf)
    elif a.step == "coldscore":
        coldscore(study, a.names, a.val)
    elif a.step == "coldfolds":
        coldfolds(study, a.names)
    else:
        report(study, a.base)


if __name__ == "__main__":
    main()
