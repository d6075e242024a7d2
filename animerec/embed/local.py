"""Local sentence-transformers models: the default embedders (MiniLM, mpnet, fine-tuned ones)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from animerec.embed.base import Embedder
from animerec.embed.model_dir import model_fingerprint
from animerec.errors import AnimerecError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

__all__ = ["PROGRESS_MIN_TEXTS", "SentenceTransformerEmbedder"]

PROGRESS_MIN_TEXTS = 512  # below this a progress bar is noise


class SentenceTransformerEmbedder(Embedder):
    """Wraps :class:`sentence_transformers.SentenceTransformer`, loaded on first use.

    ``max_seq_length`` truncates each text to that many tokens; it changes the vectors, so it is
    part of ``name`` (``minilm@256``). ``progress`` None shows a bar for long inputs only.
    """

    def __init__(
        self,
        model: str,
        name: str | None = None,
        max_seq_length: int | None = None,
        device: str | None = None,
        progress: bool | None = None,
    ) -> None:
        self.model_source = model
        self._name = name
        self.max_seq_length = max_seq_length
        self.device = device or "cpu"
        self.progress = progress

    @property
    def name(self) -> str:  # type: ignore[override]
        if self._name is None:  # a hub model whose own max_seq_length we learn by loading it
            self._name = f"{self.model_source}@{self.model.max_seq_length}"
        return self._name

    @cached_property
    def model(self) -> SentenceTransformer:
        from sentence_transformers import SentenceTransformer

        try:
            model = SentenceTransformer(self.model_source, device=self.device)
        except Exception as exc:  # hub/network/format errors: one line naming the model
            raise AnimerecError(
                f"cannot load sentence-transformers model {self.model_source!r}: "
                f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            ) from exc
        if self.max_seq_length is not None:
            model.max_seq_length = self.max_seq_length
        model.eval()
        return model

    @property
    def dim(self) -> int:
        return int(self.model.get_embedding_dimension())

    @cached_property
    def fingerprint(self) -> str | None:
        """Fingerprint of the weights on disk (None for hub names): the cache drops stale vectors."""
        if not Path(self.model_source).is_dir():
            return None
        return model_fingerprint(self.model_source)

    def _encode(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        show = self.progress if self.progress is not None else len(texts) >= PROGRESS_MIN_TEXTS
        return self.model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=show,
        )

    def __repr__(self) -> str:
        return f"SentenceTransformerEmbedder({self.name!r}, source={self.model_source!r})"
