"""Fine-tune a sentence-transformers embedder on training pairs and save it as a named embedder.

The run uses the library's own trainer (:class:`SentenceTransformerTrainer`) with one of three
losses: ``cosine`` (CosineSimilarityLoss — the book's), ``cosent`` (CoSENTLoss, which only needs
the targets' order) and ``mnrl`` (MultipleNegativesRankingLoss: each positive against every other
text in the batch, so batches must not repeat a text — ``BatchSamplers.NO_DUPLICATES`` — or the
"negatives" include the positive itself; with ``mini_batch_size`` it becomes the cached variant,
whose batch size no longer costs memory). The validation Spearman of the book
(EmbeddingSimilarityEvaluator on the labels' ``val`` pairs) is measured before and after.

The model lands in ``WS/models/<name>/`` (a sentence-transformers directory plus
``manifest.json``), renamed into place only when complete, where
:func:`animerec.embed.registry.get_embedder` finds it by name.
"""

from __future__ import annotations

import contextlib
import math
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from animerec.data.catalog import Catalog
from animerec.data.ratings import Ratings
from animerec.errors import AnimerecError
from animerec.finetune.pairs import PairSettings, TrainingPairs, build_pairs
from animerec.workspace import Workspace, atomic_path, now_iso, write_json

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

LOSSES: tuple[str, ...] = ("cosine", "cosent", "mnrl")
METHODS: tuple[str, ...] = ("full", "adapter")
METHOD_DEFAULTS: dict[str, dict[str, Any]] = {
    # every weight of the encoder, a few hundred steps fit in 30 CPU minutes
    "full": {"epochs": 1.0, "batch_size": 32, "learning_rate": 5e-5},
    # a Dense layer over cached base vectors: tens of epochs take minutes
    "adapter": {"epochs": 30.0, "batch_size": 256, "learning_rate": 1e-3},
}
MANIFEST = "manifest.json"
RESERVED_NAMES = ("minilm", "mpnet", "auto")


@dataclass(frozen=True)
class FinetuneSettings:
    """How the encoder is trained (defaults fit a MiniLM run in ≤ 30 min on 2 CPU cores).

    ``method="full"`` trains every weight of the encoder; ``"adapter"`` freezes it and trains a
    linear layer on top from the cached base vectors (:mod:`animerec.finetune.adapter`).
    ``epochs``, ``batch_size`` and ``learning_rate`` default per method (:data:`METHOD_DEFAULTS`).
    """

    base: str = "minilm"
    loss: str = "mnrl"
    method: str = "full"
    max_seq_length: int = 128
    epochs: float | None = None
    batch_size: int | None = None
    learning_rate: float | None = None
    warmup_ratio: float = 0.1
    max_steps: int | None = None
    """Stop after this many optimiser steps (the schedule is planned for them)."""
    time_budget_s: float | None = None
    """Stop after this much training time (the step count then depends on the machine)."""
    mini_batch_size: int | None = None
    """MNRL only: use CachedMultipleNegativesRankingLoss with this mini-batch (big batches, small memory)."""
    seed: int = 42
    variant: str = "clean"
    """Description variant (:data:`animerec.text.VARIANTS`)."""
    device: str | None = None
    """``cpu``, ``cuda``… (None: the library's choice)."""
    bf16: bool = False
    """Mixed precision (bfloat16) on a GPU that supports it: about twice as fast."""
    eval_pairs: int = 2000
    """Validation pairs the Spearman is measured on (a seeded sample of the ``val`` split)."""
    eval_batch_size: int = 64
    progress: bool = True

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise AnimerecError(
                f"unknown method {self.method!r}; choose one of {', '.join(METHODS)}"
            )
        for key, value in METHOD_DEFAULTS[self.method].items():
            if getattr(self, key) is None:
                object.__setattr__(self, key, value)
        if self.loss not in LOSSES:
            raise AnimerecError(f"unknown loss {self.loss!r}; choose one of {', '.join(LOSSES)}")
        if self.max_seq_length < 8:
            raise AnimerecError(f"max_seq_length must be ≥ 8, got {self.max_seq_length}")
        if self.batch_size < 2:
            raise AnimerecError(f"batch_size must be ≥ 2, got {self.batch_size}")
        if self.epochs <= 0:
            raise AnimerecError(f"epochs must be > 0, got {self.epochs}")
        if self.max_steps is not None and self.max_steps < 1:
            raise AnimerecError(f"max_steps must be ≥ 1, got {self.max_steps}")
        if self.time_budget_s is not None and self.time_budget_s <= 0:
            raise AnimerecError(f"time budget must be > 0 s, got {self.time_budget_s}")
        if self.mini_batch_size is not None and (self.loss != "mnrl" or self.mini_batch_size < 1):
            raise AnimerecError("mini_batch_size (cached MNRL) needs --loss mnrl and a size ≥ 1")
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise AnimerecError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}")


@dataclass
class FinetuneResult:
    """What a run produced (also written to the model's ``manifest.json``)."""

    name: str
    path: Path
    manifest: dict[str, Any] = field(default_factory=dict)


def check_model_name(name: str) -> str:
    """A fine-tuned model name must be a plain folder name the registry can resolve."""
    if not re.fullmatch(r"[\w.+-]+", name or "") or name.startswith("."):
        raise AnimerecError(
            f"model name {name!r} must be letters, digits, '_', '-', '.', '+' (a folder name)"
        )
    if name in RESERVED_NAMES:
        raise AnimerecError(f"model name {name!r} is a built-in embedder; choose another --out")
    return name


# --- data ---------------------------------------------------------------------------------------
def anime_texts(catalog: Catalog, variant: str) -> dict[int, str]:
    """Anime id → its generated description."""
    from animerec.text import describe

    texts = describe(catalog, variant)
    return dict(zip(catalog.anime_ids.tolist(), texts, strict=True))


def training_dataset(pairs: TrainingPairs, texts: dict[int, str], loss: str):
    """The ``datasets.Dataset`` the loss expects: (anchor, positive[, negative]) for MNRL,
    (sentence1, sentence2, score) for the pair losses. Anime without a description are dropped."""
    from datasets import Dataset

    known = np.fromiter((a in texts for a in pairs.anchor.tolist()), bool, len(pairs))
    known &= np.fromiter((b in texts for b in pairs.other.tolist()), bool, len(pairs))
    p = pairs.take(np.flatnonzero(known))
    if len(p) == 0:
        raise AnimerecError("no training pair has both anime in the catalog")
    a = [texts[i] for i in p.anchor.tolist()]
    b = [texts[i] for i in p.other.tolist()]
    if loss == "mnrl":
        cols: dict[str, list] = {"anchor": a, "positive": b}
        has_neg = np.fromiter((n in texts for n in p.negative.tolist()), bool, len(p))
        if has_neg.all():
            cols["negative"] = [texts[n] for n in p.negative.tolist()]
        return Dataset.from_dict(cols)
    return Dataset.from_dict({"sentence1": a, "sentence2": b, "score": p.target.tolist()})


def validation_pairs(
    ratings: Ratings, users: np.ndarray, pair_settings: PairSettings, n: int, seed: int
):
    """The labels' ``val`` pairs (every pair with enough co-raters, scored −1…1), sampled to ``n``."""
    from animerec.labels import LabelSettings, pair_labels

    labels = pair_labels(
        ratings, users, LabelSettings(pair_settings.min_corated, pair_settings.threshold, seed=seed)
    )
    val = labels[labels["split"] == "val"]
    if len(val) > n:
        val = val.iloc[np.sort(np.random.default_rng([seed, 6]).choice(len(val), n, replace=False))]
    return val


def similarity_evaluator(val, texts: dict[int, str], batch_size: int):
    """The book's EmbeddingSimilarityEvaluator: Spearman of cosine vs. agreement score."""
    ok = val["anime_a"].isin(list(texts)) & val["anime_b"].isin(list(texts))
    val = val[ok]
    if len(val) < 3:
        return None
    return _unique_text_evaluator()(
        [texts[a] for a in val["anime_a"].tolist()],
        [texts[b] for b in val["anime_b"].tolist()],
        val["score"].astype(float).tolist(),
        batch_size=batch_size,
        main_similarity="cosine",
        name="val",
        write_csv=False,
    )


def _unique_text_evaluator():
    """EmbeddingSimilarityEvaluator that encodes each distinct text once per call.

    Validation pairs share their anime (2,000 pairs ≈ 600 descriptions), and the library encodes
    both sides in full: on a CPU that is most of the cost of an evaluation.
    """
    from sentence_transformers.sentence_transformer.evaluation import (
        EmbeddingSimilarityEvaluator,
    )

    class UniqueTextSimilarityEvaluator(EmbeddingSimilarityEvaluator):
        def __call__(self, model, *args, **kwargs):
            unique = list(dict.fromkeys([*self.sentences1, *self.sentences2]))
            vectors = super().embed_inputs(model, unique)
            self._memo = dict(zip(unique, vectors, strict=True))
            try:
                return super().__call__(model, *args, **kwargs)
            finally:
                self._memo = None

        def embed_inputs(self, model, sentences, **kwargs):
            memo = getattr(self, "_memo", None)
            if memo is None or kwargs:
                return super().embed_inputs(model, sentences, **kwargs)
            return np.stack([memo[t] for t in sentences])

    return UniqueTextSimilarityEvaluator


def spearman(evaluator, model: SentenceTransformer) -> float | None:
    if evaluator is None:
        return None
    return float(evaluator(model)[evaluator.primary_metric])


# --- the run ------------------------------------------------------------------------------------
def make_loss(model: SentenceTransformer, s: FinetuneSettings, world_size: int = 1):
    """The loss; under data-parallel training MNRL gathers every process's batch, so each
    anchor is ranked against the whole global batch, not only its own shard."""
    from sentence_transformers.sentence_transformer import losses

    if s.loss == "cosine":
        return losses.CosineSimilarityLoss(model)
    if s.loss == "cosent":
        return losses.CoSENTLoss(model)
    gather = world_size > 1
    if s.mini_batch_size is not None:
        return losses.CachedMultipleNegativesRankingLoss(
            model,
            mini_batch_size=s.mini_batch_size,
            show_progress_bar=False,
            gather_across_devices=gather,
        )
    return losses.MultipleNegativesRankingLoss(model, gather_across_devices=gather)


def world_size() -> int:
    """Processes training together (``torchrun`` / ``accelerate launch`` set ``WORLD_SIZE``)."""
    import os

    return max(1, int(os.environ.get("WORLD_SIZE", "1")))


def is_main_process() -> bool:
    """Rank 0 (or the only process): the one that evaluates, saves and writes the manifest."""
    import os

    return int(os.environ.get("RANK", "0")) == 0


def planned_steps(n_rows: int, s: FinetuneSettings, processes: int = 1) -> int:
    """Optimiser steps the run plans for: ``max_steps``, else ``epochs`` over the rows.

    Each of ``processes`` data-parallel processes takes its own ``batch_size`` rows per step, so
    an epoch is ``processes`` times fewer steps.
    """
    per_epoch = max(1, math.ceil(n_rows / (s.batch_size * max(1, processes))))
    total = max(1, math.ceil(per_epoch * s.epochs))
    return min(total, s.max_steps) if s.max_steps is not None else total


def _time_budget_callback(budget_s: float):
    from transformers import TrainerCallback

    class TimeBudget(TrainerCallback):
        """Stops training once ``budget_s`` seconds of training have passed."""

        def __init__(self) -> None:
            self.start = time.monotonic()
            self.stopped_early = False

        def on_train_begin(self, args, state, control, **kwargs):
            self.start = time.monotonic()

        def on_step_end(self, args, state, control, **kwargs):
            if _any_process(time.monotonic() - self.start >= budget_s, args.device):
                control.should_training_stop = True
                self.stopped_early = state.global_step < state.max_steps
            return control

    return TimeBudget()


def _any_process(flag: bool, device) -> bool:
    """``flag`` OR-ed over every data-parallel process: ranks that stopped at different steps
    would leave the others waiting for them forever."""
    import torch
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return flag
    t = torch.tensor([int(flag)], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def load_base(base: str, workspace: Workspace | None, s: FinetuneSettings) -> tuple[Any, str]:
    """The base model (a registry name, fine-tuned name, directory or hub name) and its source."""
    from sentence_transformers import SentenceTransformer

    from animerec.embed.registry import model_token_limit, resolve_model_dir

    source = resolve_model_dir(base, workspace)
    limit = model_token_limit(source) if Path(source).is_dir() else None
    if limit is not None and s.max_seq_length > limit:
        raise AnimerecError(
            f"max_seq_length {s.max_seq_length} exceeds what {base!r} allows ({limit})"
        )
    try:
        model = SentenceTransformer(source, device=s.device)
    except Exception as exc:
        raise AnimerecError(f"cannot load base model {base!r} from {source}: {exc}") from exc
    model.max_seq_length = s.max_seq_length
    return model, source


def run_trainer(model, dataset, steps: int, s: FinetuneSettings):
    """Train ``model`` on ``dataset`` with the sentence-transformers trainer; returns
    ``(trainer, seconds, time-budget callback or None)``."""
    from sentence_transformers import (
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.sentence_transformer.training_args import BatchSamplers

    with tempfile.TemporaryDirectory(prefix="animerec-ft-") as tmp:
        args = SentenceTransformerTrainingArguments(
            output_dir=tmp,
            num_train_epochs=s.epochs,
            max_steps=steps,
            per_device_train_batch_size=s.batch_size,
            learning_rate=s.learning_rate,
            warmup_steps=int(round(s.warmup_ratio * steps)),
            seed=s.seed,
            data_seed=s.seed,
            batch_sampler=(
                BatchSamplers.NO_DUPLICATES_HASHED
                if s.loss == "mnrl"
                else BatchSamplers.BATCH_SAMPLER
            ),
            save_strategy="no",
            eval_strategy="no",
            report_to="none",
            logging_steps=max(1, steps // 20),
            disable_tqdm=not s.progress,
            use_cpu=s.device == "cpu" or s.method == "adapter",
            bf16=s.bf16 and s.method != "adapter",
            dataloader_drop_last=s.loss == "mnrl" and len(dataset) > s.batch_size,
        )
        callbacks = []
        budget = None
        if s.time_budget_s is not None:
            budget = _time_budget_callback(s.time_budget_s)
            callbacks.append(budget)
        trainer = SentenceTransformerTrainer(
            model=model,
            args=args,
            train_dataset=dataset,
            loss=make_loss(model, s, world_size()),
            callbacks=callbacks,
        )
        t0 = time.perf_counter()
        with _threads(1 if s.method == "adapter" else None):
            trainer.train()
        return trainer, time.perf_counter() - t0, budget


@contextlib.contextmanager
def _threads(n: int | None):
    """Run with ``n`` torch threads: an adapter's matrices are tiny, and on a busy CPU the
    thread pool's synchronisation costs far more than the arithmetic (≈ 10× slower steps)."""
    import torch

    if n is None:
        yield
        return
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def finetune(
    ratings: Ratings,
    catalog: Catalog,
    users: np.ndarray,
    name: str,
    *,
    workspace: Workspace,
    settings: FinetuneSettings | None = None,
    pairs: PairSettings | None = None,
    users_label: str = "train",
    base_vectors: Callable[[], tuple[np.ndarray, np.ndarray]] | None = None,
    out_dir: Path | None = None,
    log: Callable[[str], None] = print,
) -> FinetuneResult:
    """Train ``settings.base`` on pairs from the ratings of ``users`` and save it as ``name``.

    ``users`` decides who shapes the model (the protocol's training users for evaluation, every
    user for production). ``base_vectors()`` gives ``(anime ids, unit vectors)`` of the base
    encoder to mine hard negatives from (default: the whole catalog through the workspace's
    embedding cache).
    ``out_dir`` overrides ``WS/models/<name>`` (the registry then needs the path, not the name).
    """
    from animerec.evaluate.tune import data_fingerprint
    from animerec.text import check_variant

    s = settings or FinetuneSettings()
    ps = pairs or PairSettings()
    check_model_name(name)
    check_variant(s.variant)
    users = np.unique(np.asarray(users, dtype=np.int64))
    target = Path(out_dir) if out_dir is not None else workspace.models_dir / name
    t_start = time.perf_counter()

    texts = anime_texts(catalog, s.variant)
    if base_vectors is None and (ps.hard_negatives == "mined" or s.method == "adapter"):
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
    if s.method == "adapter":
        from animerec.finetune.adapter import adapted_model, identity_dense, training_model

        log("adapter: reading the base vectors of the catalog (embedding cache)")
        ids, vectors = base_vectors()
        dense = identity_dense(vectors.shape[1])
        trained = training_model([texts[a] for a in ids.tolist()], vectors, dense, s.max_seq_length)
    else:
        trained = model
    val = validation_pairs(ratings, users, ps, s.eval_pairs, ps.seed)
    # Only the main process measures (the others would repeat the same figures).
    evaluator = similarity_evaluator(val, texts, s.eval_batch_size) if main else None
    before = spearman(evaluator, trained)
    log(f"validation Spearman before: {_fmt(before)} ({len(val):,} val pairs)")

    trainer, train_s, budget = run_trainer(trained, dataset, steps, s)
    if s.method == "adapter":
        model = adapted_model(model, dense)
    done = int(trainer.state.global_step)
    losses = [
        {"step": int(e["step"]), "loss": float(e["loss"])}
        for e in trainer.state.log_history
        if "loss" in e and "step" in e
    ]
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
        "settings": asdict(s),
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
        "loss_history": losses,
        "train_s": round(train_s, 1),
        "wall_s": round(time.perf_counter() - t_start, 1),
        "created": now_iso(),
        "versions": _versions(),
    }
    if not main:  # one writer: the main process saves the (identical) DDP weights
        return FinetuneResult(name, target, manifest)
    save_model(model, target, manifest, users)
    log(f"saved {target} (embedder name {name!r})")
    if s.method == "adapter" and out_dir is None:
        from animerec.embed.registry import get_embedder
        from animerec.finetune.adapter import prime_cache

        embedder = get_embedder(name, workspace=workspace)
        n = prime_cache(embedder, [texts[a] for a in ids.tolist()], vectors, dense, workspace)
        log(
            f"embedding cache: {n:,} catalog vectors of {embedder.name} computed from the base ones"
        )
    return FinetuneResult(name, target, manifest)


def save_model(
    model: SentenceTransformer,
    target: Path,
    manifest: dict[str, Any],
    users: np.ndarray | None = None,
) -> None:
    """Write the sentence-transformers directory, its manifest and the ids of the users it learned
    from (so evaluation can refuse a model that saw its test users), renamed into place at the end."""
    from animerec.embed.registry import TRAINING_USERS_FILE

    with atomic_path(target) as work:
        model.save(str(work), create_model_card=False)
        write_json(work / MANIFEST, manifest)
        if users is not None:
            np.save(work / TRAINING_USERS_FILE, np.asarray(users, np.int64), allow_pickle=False)


def read_manifest(model_dir: str | Path) -> dict[str, Any]:
    """The manifest of a fine-tuned model directory ({} when it has none)."""
    from animerec.workspace import read_json

    path = Path(model_dir) / MANIFEST
    return read_json(path) if path.exists() else {}


def _cached_base_vectors(
    s: FinetuneSettings, catalog: Catalog, workspace: Workspace
) -> Callable[[], tuple[np.ndarray, np.ndarray]]:
    """The base encoder's vectors of every catalog anime, through the workspace's cache."""

    def encode() -> tuple[np.ndarray, np.ndarray]:
        from animerec.embed.cache import catalog_embeddings
        from animerec.embed.registry import get_embedder

        embedder = get_embedder(s.base, workspace=workspace, max_seq_length=s.max_seq_length)
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
    import hashlib

    return hashlib.sha256(np.ascontiguousarray(ids, dtype="<i8").tobytes()).hexdigest()[:16]


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {}
    for pkg in ("sentence-transformers", "transformers", "torch"):
        with contextlib.suppress(md.PackageNotFoundError):
            out[pkg] = md.version(pkg)
    return out


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.4f}"
