"""How a fine-tuning run is configured, and the one recommended configuration (:data:`RECOMMENDED`).

The defaults of :class:`FinetuneSettings` *are* the recipe that won the embedding study
(docs/experiments.md: ``ad384-rare``): an adapter over frozen MiniLM at 384 tokens, trained with
MultipleNegativesRankingLoss on the 10 nearest EASE-teacher neighbours of each anime, with rarely
rated anime as hard negatives. ``animerec finetune`` reads its option defaults from
:data:`RECOMMENDED`, and so does ``scripts/main.sh`` (which passes no recipe flags), so the CLI,
the script and the library cannot drift apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from animerec.embed.registry import check_backend
from animerec.errors import AnimerecError

__all__ = [
    "HARD_NEGATIVES",
    "LOSSES",
    "METHODS",
    "METHOD_DEFAULTS",
    "RECIPES",
    "RECOMMENDED",
    "RECOMMENDED_PAIRS",
    "RESERVED_NAMES",
    "FinetuneSettings",
    "PairSettings",
    "check_model_name",
]

LOSSES: tuple[str, ...] = ("cosine", "cosent", "mnrl")
METHODS: tuple[str, ...] = ("full", "adapter")
METHOD_DEFAULTS: dict[str, dict[str, Any]] = {
    # every weight of the encoder, a few hundred steps fit in 30 CPU minutes
    "full": {"epochs": 1.0, "batch_size": 32, "learning_rate": 5e-5},
    # a Dense layer over cached base vectors: tens of epochs take minutes
    "adapter": {"epochs": 30.0, "batch_size": 256, "learning_rate": 1e-3},
}
RESERVED_NAMES = ("minilm", "mpnet", "auto")
Recipe = Literal["book", "jaccard", "lift", "ease"]
RECIPES: tuple[str, ...] = ("book", "jaccard", "lift", "ease")
HardNegatives = Literal["none", "detracted", "mined", "rare"]
HARD_NEGATIVES: tuple[str, ...] = ("none", "detracted", "mined", "rare")


@dataclass(frozen=True)
class PairSettings:
    """How training pairs are chosen.

    The defaults are the study's neutral starting point (3 neighbours, no hard negatives); the
    recipe that won it is :data:`RECOMMENDED_PAIRS` (docs/experiments.md).
    """

    recipe: str = "ease"
    seed: int = 42
    max_pairs: int | None = None
    """Keep at most this many rows (positives first by neighbour rank; seeded)."""
    # --- book: agreement labels ------------------------------------------------------------------
    min_corated: int = 20
    threshold: float = 0.7
    balance: bool = True
    """Book recipe: as many positives as negatives (the book balances its classes)."""
    negative_target: float = -1.0
    """Target cosine of a detracted pair for the pair losses (the book: −1; 0 also tried)."""
    # --- neighbour recipes ------------------------------------------------------------------------
    neighbours: int = 3
    """Partners per anchor (its top-k neighbours)."""
    min_raters: int = 10
    """Anchors are anime with at least this many raters among the users."""
    min_rating: int = 7
    """A rating at or above this is a *like* (EASE positives, Jaccard/lift fans)."""
    ease_l2: float = 200.0
    ease_graded: bool = False
    """EASE teacher: weight a like by ``rating − min_rating + 1`` (else every like counts 1)."""
    min_partner_raters: int = 3
    """Partners need this many likes (EASE's item space; Jaccard/lift candidates)."""
    shrink: float = 10.0
    """Lift: weight ``c / (c + shrink)`` damps pairs seen by few common fans."""
    random_negatives: float = 1.0
    """Neighbour recipes, pair losses: random (target 0) pairs per positive."""
    # --- hard negatives (MNRL) --------------------------------------------------------------------
    hard_negatives: str = "none"
    mined_pool: int = 20
    """``mined``: the negative is drawn from this many nearest anime by the base encoder."""
    mined_exclude: int = 50
    """``mined``: an anchor's top-this-many teacher neighbours are never its negative."""
    rare_max_raters: int = 9
    """``rare``: negatives are anime with 1 to this many raters among the users."""

    def __post_init__(self) -> None:
        if self.recipe not in RECIPES:
            raise AnimerecError(
                f"unknown pair recipe {self.recipe!r}; choose one of {', '.join(RECIPES)}"
            )
        if self.hard_negatives not in HARD_NEGATIVES:
            raise AnimerecError(
                f"unknown hard-negative kind {self.hard_negatives!r}; choose one of "
                f"{', '.join(HARD_NEGATIVES)}"
            )
        if self.max_pairs is not None and self.max_pairs < 1:
            raise AnimerecError(f"max_pairs must be ≥ 1, got {self.max_pairs}")
        if self.neighbours < 1:
            raise AnimerecError(f"neighbours must be ≥ 1, got {self.neighbours}")
        if not -1.0 <= self.negative_target <= 1.0:
            raise AnimerecError(f"negative_target must be in [-1, 1], got {self.negative_target}")
        if self.random_negatives < 0:
            raise AnimerecError(f"random_negatives must be ≥ 0, got {self.random_negatives}")


RECOMMENDED_PAIRS = PairSettings(recipe="ease", neighbours=10, min_raters=10, hard_negatives="rare")
"""The study's winning training pairs: 10 EASE-teacher neighbours per anime rated by ≥ 10 users,
an anime 1–9 users rated as each positive's hard negative. (:class:`PairSettings`' own defaults
stay the study's neutral starting point: 3 neighbours, no hard negatives.)"""


@dataclass(frozen=True)
class FinetuneSettings:
    """How the encoder is trained; the defaults are :data:`RECOMMENDED` (the study's winner).

    ``method="full"`` trains every weight of the encoder; ``"adapter"`` freezes it and trains a
    linear layer on top from the cached base vectors (:mod:`animerec.finetune.adapter`).
    ``epochs``, ``batch_size`` and ``learning_rate`` default per method (:data:`METHOD_DEFAULTS`).
    ``pairs`` chooses the training pairs (:class:`PairSettings`).
    """

    base: str = "minilm"
    loss: str = "mnrl"
    method: str = "adapter"
    max_seq_length: int = 384
    """Tokens per description: 384 leaves 99.4% of descriptions whole and recommended best."""
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
    backend: str = "torch"
    """How the base encoder runs for the catalog vectors an adapter trains on and writes
    (``torch``, ``onnx``, ``onnx-int8``; int8 is 2.6–2.9× faster for MiniLM on a CPU). The saved
    model is the same sentence-transformers directory whatever the backend."""
    eval_pairs: int = 2000
    """Validation pairs the Spearman is measured on (a seeded sample of the ``val`` split)."""
    eval_batch_size: int = 64
    progress: bool = True
    pairs: PairSettings = RECOMMENDED_PAIRS
    """Which anime the encoder learns to pull together (the manifest's ``recipe``)."""

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
        check_backend(self.backend)
        if self.backend != "torch" and self.method != "adapter":
            raise AnimerecError(
                f"backend {self.backend!r} applies to --method adapter (the catalog vectors it "
                "trains on and writes); a full fine-tune trains the encoder in torch"
            )
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise AnimerecError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}")

    def run_settings(self) -> dict[str, Any]:
        """Every setting but ``pairs``: what the manifest records as ``settings`` (the pairs are
        its ``recipe``)."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "pairs"}


RECOMMENDED = FinetuneSettings()
"""The recommended run (the study's ``ad384-rare``): ``--method adapter --recipe ease
--neighbours 10 --loss mnrl --max-seq-length 384 --hard-negatives rare``. The CLI's defaults."""


def check_model_name(name: str) -> str:
    """A fine-tuned model name must be a plain folder name the registry can resolve."""
    if not re.fullmatch(r"[\w.+-]+", name or "") or name.startswith("."):
        raise AnimerecError(
            f"model name {name!r} must be letters, digits, '_', '-', '.', '+' (a folder name)"
        )
    if name in RESERVED_NAMES:
        raise AnimerecError(f"model name {name!r} is a built-in embedder; choose another --out")
    return name
