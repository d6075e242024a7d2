"""Cold-start steps: ``coldstart``, ``coldscore`` (content vs plain similarity rules) and
``coldfolds`` (the cold-start test over a 10-fold partition of the catalog)."""

from __future__ import annotations

import json
import sys
from typing import Any

import numpy as np

from animerec.data.ratings import histories_from_ratings
from animerec.recommend import mask_seen, top_k
from animerec.recommend.content import ContentRecommender
from animerec.recommend.context import Context
from animerec.workspace import write_json

from .configs import FOLD_RECIPES
from .content import evaluate_label, pending
from .stats import user_metrics
from .study import FOLDS, Study, new_anime, parse_label
from .training import train


def coldstart(study: Study, labels: list[str], cf: bool) -> None:
    split = study.cold_split()
    print(
        f"cold-start: {len(study.cold_items()):,} anime removed from training; "
        f"{len(split.test_users)} test users"
    )
    if cf:
        evaluate_label(
            study, "cf", "coldstart", ["ease", "als", "popularity"], study.ratings, split, tune=True
        )
    for label in labels:
        evaluate_label(study, label, "coldstart", ["content"], study.ratings, split, tune=True)


COLD_RULES = ("content", "centroid", "max", "top3")


COLD_CONTENT = {"neighbours": 3, "min_rating": 9}
"""Content settings for new anime: what tuning picks on the cold split for every embedder."""


def label_vectors(study: Study, label: str) -> np.ndarray:
    """Unit vectors of the catalog for ``label``; ``A+B`` concatenates A's and B's (each half
    weighted equally, so a pair's cosine is the mean of the two spaces' cosines)."""
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
            m = out["per_user_cold"][how] = user_metrics(ids, split, users, cold=cold_ids)
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
            m = user_metrics(cat.anime_ids[top_k(scores, 10)], split, users, cold=cold_ids)
            done["folds"].append(m)
            write_json(target, done)
            print(
                f"coldfolds {label} fold {f}: cold NDCG@10 {np.mean(m['ndcg']):.4f}  "
                f"HR@10 {np.mean(m['hr']):.3f}  ({len(m['users'])} users)",
                flush=True,
            )
