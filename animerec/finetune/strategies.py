"""The two ways a run trains: every encoder weight (``full``) or a linear adapter (``adapter``).

A strategy turns the loaded base encoder into what the trainer trains, and the trained model back
into what is saved; the rest of a run (pairs, trainer, validation, manifest) is the same for both.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from animerec.embed.base import Embedder
from animerec.errors import AnimerecError
from animerec.finetune.adapter import adapted_model, identity_dense, prime_cache, training_model
from animerec.finetune.settings import FinetuneSettings
from animerec.workspace import Workspace

__all__ = ["STRATEGIES", "AdapterStrategy", "FullStrategy", "Strategy", "strategy_for"]

BaseVectors = Callable[[], tuple[np.ndarray, np.ndarray]]


class Strategy(ABC):
    """What differs between the methods of :data:`animerec.finetune.settings.METHODS`."""

    method: ClassVar[str]
    needs_base_vectors: ClassVar[bool]
    """The base encoder's catalog vectors are read (from the embedding cache) to train."""
    cpu_only: ClassVar[bool]
    """Trains on the CPU whatever the device (and so without bf16)."""
    torch_threads: ClassVar[int | None]
    """Torch threads while training (None: as they are)."""

    @abstractmethod
    def trainable(
        self,
        model: Any,
        texts: dict[int, str],
        s: FinetuneSettings,
        base_vectors: BaseVectors | None,
        log: Callable[[str], None],
    ) -> Any:
        """What the trainer trains, from the loaded base ``model``."""

    @abstractmethod
    def saved_model(self, model: Any) -> Any:
        """The model to save once training is done (``model`` is the loaded base)."""

    def after_save(self, embedder: Callable[[], Embedder], workspace: Workspace) -> str | None:
        """Work once the model is saved under its name; a line for the log, or None."""
        return None


class FullStrategy(Strategy):
    """Every weight of the encoder is trained; the trained model is the saved one."""

    method = "full"
    needs_base_vectors = False
    cpu_only = False
    torch_threads = None

    def trainable(self, model, texts, s, base_vectors, log):
        return model

    def saved_model(self, model):
        return model


class AdapterStrategy(Strategy):
    """The encoder stays frozen; a ``Dense`` layer is trained over its cached catalog vectors.

    Trained on the CPU with one torch thread: an adapter's matrices are tiny, and on a busy CPU the
    thread pool's synchronisation costs far more than the arithmetic (≈ 10× slower steps).
    """

    method = "adapter"
    needs_base_vectors = True
    cpu_only = True
    torch_threads = 1

    def __init__(self) -> None:
        self.dense: Any = None
        self.texts: list[str] = []
        self.vectors: np.ndarray | None = None

    def trainable(self, model, texts, s, base_vectors, log):
        log("adapter: reading the base vectors of the catalog (embedding cache)")
        ids, vectors = base_vectors()
        self.texts = [texts[a] for a in ids.tolist()]
        self.vectors = vectors
        self.dense = identity_dense(vectors.shape[1])
        return training_model(self.texts, vectors, self.dense, s.max_seq_length)

    def saved_model(self, model):
        return adapted_model(model, self.dense)

    def after_save(self, embedder, workspace):
        """Put the adapted catalog vectors into the embedding cache (computed from the base ones,
        not by running the encoder again)."""
        emb = embedder()
        n = prime_cache(emb, self.texts, self.vectors, self.dense, workspace)
        return f"embedding cache: {n:,} catalog vectors of {emb.name} computed from the base ones"


STRATEGIES: dict[str, type[Strategy]] = {cls.method: cls for cls in (FullStrategy, AdapterStrategy)}


def strategy_for(method: str) -> Strategy:
    """A fresh strategy for ``method`` (it holds the run's adapter, so one per run)."""
    if method not in STRATEGIES:
        raise AnimerecError(f"unknown method {method!r}; choose one of {', '.join(STRATEGIES)}")
    return STRATEGIES[method]()
