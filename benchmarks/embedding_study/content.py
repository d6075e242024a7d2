"""Steps that score the content (and hybrid) recommender per embedder: ``dev``, ``dev-both``,
``select``, ``onnx`` and ``rated``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from animerec.data.ratings import Ratings, histories_from_ratings
from animerec.data.split import Split
from animerec.embed.cache import EmbeddingCache, cached_encode
from animerec.embed.registry import get_embedder
from animerec.evaluate.report import metrics_dict
from animerec.evaluate.runner import evaluate
from animerec.finetune.run import read_manifest
from animerec.recommend.content import ContentRecommender, neighbour_table
from animerec.text import describe
from animerec.workspace import write_json

from .stats import paired_delta, per_user
from .study import Study, content_params, finetune_summary, new_anime, parse_label


def evaluate_label(
    study: Study,
    label: str,
    step: str,
    models: list[str],
    ratings: Ratings,
    split: Split,
    tune: bool,
    extra_params: dict[str, Any] | None = None,
) -> None:
    target = pending(study, step, label)
    if target is None:
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
    out["per_user"] = {r.model: per_user(r, split, users) for r in ev.results}
    if step.startswith("coldstart"):
        cold = new_anime(split, study.catalog)
        out["per_user_cold"] = {r.model: per_user(r, split, users, cold=cold) for r in ev.results}
    out["wall_s"] = round(time.perf_counter() - t0, 1)
    if finetuned := finetune_summary(study, label):
        out["finetune"] = finetuned
    write_json(target, out)
    for r in ev.results:
        print(
            f"{step} {label} {r.model}: NDCG@10 {r.ndcg.mean:.4f} [{r.ndcg.low:.4f}, "
            f"{r.ndcg.high:.4f}]  HR@10 {r.hr.mean:.3f}  NPS {r.nps.value:+.3f} (n={r.nps.n})  "
            f"cold NDCG {r.cold.get('ndcg', {}).get('mean', float('nan')):.4f}",
            flush=True,
        )


def pending(study: Study, step: str, label: str) -> Path | None:
    """Where ``step``'s result for ``label`` goes, or None when it is there already."""
    target = study.out / step / f"{label}.json"
    if target.exists():
        print(f"{step} {label}: done — skipped ({target})")
        return None
    return target


def masked_vectors(study: Study, embedder, texts: list[str], mask: np.ndarray):
    """Catalog-shaped vectors with only ``mask``'s anime encoded (the rest zero: never
    recommended, no neighbours), and the seconds it took (cache hits are free)."""
    v = np.zeros((len(study.catalog), embedder.dim), np.float32)
    todo = [t for t, keep in zip(texts, mask, strict=True) if keep]
    t0 = time.perf_counter()
    v[mask] = cached_encode(embedder, todo, EmbeddingCache(study.ws), progress=True)
    return v, time.perf_counter() - t0


def label_masked_vectors(
    study: Study, label: str, texts: list[str], mask: np.ndarray, backend: str = "torch"
) -> tuple[np.ndarray, float]:
    """:func:`masked_vectors` of ``label``'s embedder (``base@N``, ``mpnet@N`` or a model name)."""
    name, seq = parse_label(label)
    embedder = get_embedder(name, workspace=study.ws, max_seq_length=seq, backend=backend)
    return masked_vectors(study, embedder, texts, mask)


def rated_setup(study: Study) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Descriptions, the mask of anime some sample user rated, and the DEV history users."""
    mask = np.isin(study.catalog.anime_ids, np.unique(study.ratings.anime_id))
    users, _ = histories_from_ratings(study.split.history)
    return describe(study.catalog, "clean"), mask, users


def onnx(study: Study, labels: list[str]) -> None:
    """int8 vs fp32 as the content recommender on DEV: vector agreement and NDCG@10.

    Both encode the anime some user of the sample rated (the only ones a history can hold or a
    held-out answer can be; unrated anime get zero vectors and are never recommended:
    ``min_item_raters=1``), with the content defaults (no tuning), so the two differ only in the
    encoder's arithmetic.
    """
    texts, rated, users = rated_setup(study)
    for label in labels:
        target = pending(study, "onnx", label)
        if target is None:
            continue
        vectors, speed = {}, {}
        for backend in ("torch", "onnx-int8"):
            vectors[backend], speed[backend] = label_masked_vectors(
                study, label, texts, rated, backend
            )
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
            f"content[{bk}]": per_user(r, study.split, users)
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
    texts, mask, users = rated_setup(study)
    for label in labels:
        target = pending(study, "rated", label)
        if target is None:
            continue
        vectors, seconds = label_masked_vectors(study, label, texts, mask)
        model = ContentRecommender(ContentRecommender.Params(min_item_raters=1), vectors=vectors)
        ev = evaluate([model], study.ratings, study.catalog, split=study.split, tune_models=False)
        out = metrics_dict(ev, {"label": label, "step": "rated", "encode_s": seconds})
        out["per_user"] = {"content": per_user(ev.results[0], study.split, users)}
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
    vs = study.selection_split()
    users, _ = histories_from_ratings(vs.history)
    texts = describe(study.catalog, "clean")
    rated = np.isin(study.catalog.anime_ids, np.unique(study.split.train.anime_id))
    for label in labels:
        target = pending(study, "select", label)
        if target is None:
            continue
        vectors, _ = label_masked_vectors(study, label, texts, rated)
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
            f"content-n{n}": per_user(r, vs, users)
            for r, n in zip(ev.results, SELECT_NEIGHBOURS, strict=True)
        }
        if finetuned := finetune_summary(study, label):
            out["finetune"] = finetuned
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
        evaluate_label(study, label, step, models, study.ratings, study.split, tune=True)


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
        evaluate_label(
            study, label, "dev-both", ["hybrid"], study.ratings, study.split, True, extra
        )
