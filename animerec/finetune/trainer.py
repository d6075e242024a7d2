"""One training run of a sentence-transformers model, through the library's own trainer.

The trainer (:class:`SentenceTransformerTrainer`) runs one of three losses: ``cosine``
(CosineSimilarityLoss — the book's), ``cosent`` (CoSENTLoss, which only needs the targets' order)
and ``mnrl`` (MultipleNegativesRankingLoss: each positive against every other text in the batch,
so batches must not repeat a text — ``BatchSamplers.NO_DUPLICATES`` — or the "negatives" include
the positive itself; with ``mini_batch_size`` it becomes the cached variant, whose batch size no
longer costs memory). Data-parallel runs (``torchrun``) are supported: the processes agree on when
to stop, and only the main one evaluates and saves.

torch, transformers and sentence-transformers load inside the functions: they take ~13 s to import
(measured), which every ``animerec`` command would pay through the finetune package.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from animerec.embed.model_dir import model_token_limit
from animerec.embed.registry import resolve_model_dir
from animerec.errors import AnimerecError
from animerec.finetune.settings import FinetuneSettings
from animerec.finetune.strategies import Strategy
from animerec.workspace import Workspace

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

__all__ = [
    "is_main_process",
    "load_base",
    "make_loss",
    "planned_steps",
    "run_trainer",
    "world_size",
]


def make_loss(model: SentenceTransformer, s: FinetuneSettings, world_size: int = 1) -> Any:
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
    return max(1, int(os.environ.get("WORLD_SIZE", "1")))


def is_main_process() -> bool:
    """Rank 0 (or the only process): the one that evaluates, saves and writes the manifest."""
    return int(os.environ.get("RANK", "0")) == 0


def planned_steps(n_rows: int, s: FinetuneSettings, processes: int = 1) -> int:
    """Optimiser steps the run plans for: ``max_steps``, else ``epochs`` over the rows.

    Each of ``processes`` data-parallel processes takes its own ``batch_size`` rows per step, so
    an epoch is ``processes`` times fewer steps.
    """
    per_epoch = max(1, math.ceil(n_rows / (s.batch_size * max(1, processes))))
    total = max(1, math.ceil(per_epoch * s.epochs))
    return min(total, s.max_steps) if s.max_steps is not None else total


def _time_budget_callback(budget_s: float) -> Any:
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


def _any_process(flag: bool, device: Any) -> bool:
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


def run_trainer(
    model: Any, dataset: Any, steps: int, s: FinetuneSettings, strategy: Strategy
) -> tuple[Any, float, Any]:
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
            use_cpu=s.device == "cpu" or strategy.cpu_only,
            bf16=s.bf16 and not strategy.cpu_only,
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
        with _threads(strategy.torch_threads):
            trainer.train()
        return trainer, time.perf_counter() - t0, budget


@contextlib.contextmanager
def _threads(n: int | None) -> Iterator[None]:
    """Run with ``n`` torch threads (None: leave them as they are)."""
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
