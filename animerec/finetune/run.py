"""Fine-tune a sentence-transformers embedder on training pairs and save it as a named embedder.

One run: the pairs of :mod:`animerec.finetune.pairs` from the given users' ratings, the rows the
loss needs, the base encoder prepared by the method's strategy (:mod:`animerec.finetune.strategies`),
the trainer (:mod:`animerec.finetune.trainer`), and the book's validation Spearman
(:mod:`animerec.finetune.validation`) before and after.

The model lands in ``WS/models/<name>/`` (a sentence-transformers directory plus
``manifest.json``), renamed into place only when complete, where
:func:`animerec.embed.registry.get_embedder` finds it by name.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata as md
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from animerec.data.catalog import Catalog
from animerec.data.fingerprint import data_fingerprint
from animerec.data.ratings import Ratings
from animerec.embed.cache import catalog_embeddings
from animerec.embed.model_dir import TRAINING_USERS_FILE
from animerec.embed.registry import get_embedder
from animerec.finetune.dataset import anime_texts, training_dataset
from animerec.finetune.pairs import build_pairs
from animerec.finetune.settings import RECOMMENDED, FinetuneSettings, check_model_name
from animerec.finetune.strategies import strategy_for
from animerec.finetune.trainer import (
    is_main_process,
    load_base,
    planned_steps,
    run_trainer,
    world_size,
)
from animerec.finetune.validation import similarity_evaluator, spearman, validation_pairs
from animerec.text import check_variant
from animerec.workspace import Workspace, atomic_path, now_iso, read_json, write_json

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

__all__ = ["MANIFEST", "FinetuneResult", "finetune", "read_manifest", "save_model"]

MANIFEST = "manifest.json"


@dataclass
class FinetuneResult:
    """What a run produced (also written to the model's ``manifest.json``)."""

    name: str
    path: Path
    manifest: dict[str, Any] = field(default_factory=dict)


def finetune(
    ratings: Ratings,
    catalog: Catalog,
    users: np.ndarray,
    name: str,
    *,
    workspace: Workspace,
    settings: FinetuneSettings = RECOMMENDED,
    users_label: str = "train",
    base_vectors: Callable[[], tuple[np.ndarray, np.ndarray]] | None = None,
    out_dir: Path | None = None,
    log: Callable[[str], None] = print,
) -> FinetuneResult:
    """Train ``settings.base`` on ``settings.pairs`` from the ratings of ``users``; save it as ``name``.

    ``users`` decides who shapes the model (the protocol's training users for evaluation, every
    user for production). ``base_vectors()`` gives ``(anime ids, unit vectors)`` of the base
    encoder to mine hard negatives from (default: the whole catalog through the workspace's
    embedding cache).
    ``out_dir`` overrides ``WS/models/<name>`` (the registry then needs the path, not the name).
    """
    s = settings
    ps = s.pairs
    check_model_name(name)
    check_variant(s.variant)
    strategy = strategy_for(s.method)
    users = np.unique(np.asarray(users, dtype=np.int64))
    target = Path(out_dir) if out_dir is not None else workspace.models_dir / name
    t_start = time.perf_counter()

    texts = anime_texts(catalog, s.variant)
    if base_vectors is None and (ps.hard_negatives == "mined" or strategy.needs_base_vectors):
        base_vectors = _memo(_cached_base_vectors(s, catalog, workspace))
    log(f"building {ps.recipe!r} pairs from {len(users):,} users for loss {s.loss!r}")
    train_pairs = build_pairs(ratings, users, ps, for_loss=s.loss, base_vectors=base_vectors)
    dataset = training_dataset(train_pairs, texts, s.loss)
    processes = world_size()
    main = is_main_process()
    if not main:
        log = _quiet
    steps = planned_steps(len(dataset), s, processes)
    log(
        f"{len(dataset):,} training rows over {len(train_pairs.anime()):,} anime; "
        f"{steps} steps of {s.batch_size}{f' × {processes} processes' if processes > 1 else ''} "
        f"at max_seq_length {s.max_seq_length}"
    )

    model, source = load_base(s.base, workspace, s)
    trained = strategy.trainable(model, texts, s, base_vectors, log)
    val = validation_pairs(ratings, users, ps, s.eval_pairs, ps.seed)
    # Only the main process measures (the others would repeat the same figures).
    evaluator = similarity_evaluator(val, texts, s.eval_batch_size) if main else None
    before = spearman(evaluator, trained)
    log(f"validation Spearman before: {_fmt(before)} ({len(val):,} val pairs)")

    trainer, train_s, budget = run_trainer(trained, dataset, steps, s, strategy)
    model = strategy.saved_model(model)
    done = int(trainer.state.global_step)
    after = spearman(evaluator, trained)
    log(
        f"validation Spearman after: {_fmt(after)} (before {_fmt(before)}); "
        f"{done} steps in {train_s:.0f} s ({train_s / max(done, 1):.2f} s/step)"
    )

    manifest = {
        "name": name,
        "base": s.base,
        "base_source": source,
        "loss": s.loss,
        "method": s.method,
        "loss_class": type(trainer.loss).__name__
        if not isinstance(trainer.loss, dict)
        else "multi",
        "settings": s.run_settings(),
        "recipe": asdict(ps),
        "pairs": {k: v for k, v in train_pairs.summary().items() if k != "settings"},
        "training_rows": len(dataset),
        "steps": done,
        "planned_steps": steps,
        "processes": processes,
        "stopped_by_time_budget": bool(budget is not None and budget.stopped_early),
        "epochs_done": done * s.batch_size * processes / max(len(dataset), 1),
        "max_seq_length": s.max_seq_length,
        "variant": s.variant,
        "seed": s.seed,
        "users": {
            "source": users_label,
            "count": len(users),
            "ids_sha256": _ids_hash(users),
        },
        "data_fingerprint": data_fingerprint(ratings.for_users(users), catalog),
        "validation": {
            "metric": "spearman_cosine (EmbeddingSimilarityEvaluator, labels' val split)",
            "pairs": int(len(val)),
            "before": before,
            "after": after,
        },
        "loss_history": _loss_history(trainer),
        "train_s": round(train_s, 1),
        "wall_s": round(time.perf_counter() - t_start, 1),
        "created": now_iso(),
        "versions": _versions(),
    }
    if not main:  # one writer: the main process saves the (identical) DDP weights
        return FinetuneResult(name, target, manifest)
    save_model(model, target, manifest, users)
    log(f"saved {target} (embedder name {name!r})")
    if out_dir is None:
        line = strategy.after_save(
            lambda: get_embedder(name, workspace=workspace, backend=s.backend), workspace
        )
        if line is not None:
            log(line)
    return FinetuneResult(name, target, manifest)


def save_model(
    model: SentenceTransformer,
    target: Path,
    manifest: dict[str, Any],
    users: np.ndarray | None = None,
) -> None:
    """Write the sentence-transformers directory, its manifest and the ids of the users it learned
    from (so evaluation can refuse a model that saw its test users), renamed into place at the end."""
    with atomic_path(target) as work:
        model.save(str(work), create_model_card=False)
        write_json(work / MANIFEST, manifest)
        if users is not None:
            np.save(work / TRAINING_USERS_FILE, np.asarray(users, np.int64), allow_pickle=False)


def read_manifest(model_dir: str | Path) -> dict[str, Any]:
    """The manifest of a fine-tuned model directory ({} when it has none)."""
    path = Path(model_dir) / MANIFEST
    return read_json(path) if path.exists() else {}


def _loss_history(trainer: Any) -> list[dict[str, float | int]]:
    """The logged training losses, step by step."""
    return [
        {"step": int(e["step"]), "loss": float(e["loss"])}
        for e in trainer.state.log_history
        if "loss" in e and "step" in e
    ]


def _cached_base_vectors(
    s: FinetuneSettings, catalog: Catalog, workspace: Workspace
) -> Callable[[], tuple[np.ndarray, np.ndarray]]:
    """The base encoder's vectors of every catalog anime, through the workspace's cache."""

    def encode() -> tuple[np.ndarray, np.ndarray]:
        embedder = get_embedder(
            s.base, workspace=workspace, max_seq_length=s.max_seq_length, backend=s.backend
        )
        return catalog.anime_ids, catalog_embeddings(embedder, catalog, workspace, s.variant)

    return encode


def _memo(fn: Callable[[], Any]) -> Callable[[], Any]:
    """``fn`` computed once (the base vectors serve both mining and the adapter)."""
    box: list[Any] = []

    def once() -> Any:
        if not box:
            box.append(fn())
        return box[0]

    return once


def _quiet(_msg: str) -> None:
    """Log sink of the non-main data-parallel processes."""


def _ids_hash(ids: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(ids, dtype="<i8").tobytes()).hexdigest()[:16]


def _versions() -> dict[str, str]:
    out = {}
    for pkg in ("sentence-transformers", "transformers", "torch"):
        with contextlib.suppress(md.PackageNotFoundError):
            out[pkg] = md.version(pkg)
    return out


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.4f}"
