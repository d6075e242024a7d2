"""The one embedder contract: texts in, L2-normalised float32 rows out, under a stable name."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np


class Embedder(ABC):
    """Turns texts into unit vectors.

    ``name`` identifies the model *and* every setting that changes its output (e.g.
    ``minilm@256``); the embedding cache keys on it, so two embedders with the same name must
    produce the same vectors.
    """

    name: str
    fingerprint: str | None = None
    """A fingerprint of the weights (None: fixed by the name alone), so caches notice retraining."""

    @property
    @abstractmethod
    def dim(self) -> int:
        """Length of each vector."""

    @abstractmethod
    def _encode(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        """Raw vectors for ``texts`` (any scale); :meth:`encode` normalises them."""

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """``float32 [len(texts), dim]``, each row of unit length (zero rows stay zero)."""
        if len(texts) == 0:
            return np.zeros((0, self.dim), np.float32)
        return normalize(np.asarray(self._encode(list(texts), batch_size), dtype=np.float32))


def normalize(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.where(norms == 0, 1, norms)).astype(np.float32, copy=False)
