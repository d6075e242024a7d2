"""Adapter fine-tuning: a trained linear layer on top of a frozen encoder, fitted in minutes on a CPU.

Full fine-tuning of MiniLM costs ~5 s per step of 32 pairs on two CPU cores, so a 30-minute run
sees ~6,000 pairs once — too little to move the encoder's neighbourhoods far. The descriptions'
base vectors are already in the embedding cache, though: with the encoder frozen, training only
needs those vectors. :class:`CachedTextEmbedding` stands in for the encoder during training
(a text's vector is looked up, not computed), so the sentence-transformers trainer, its losses and
its batch samplers run unchanged over a ``Dense`` layer for tens of epochs in minutes. The saved
model is the real thing: the base encoder's modules, the trained ``Dense`` and ``Normalize`` —
a sentence-transformers directory that encodes any new text (cold-start anime included).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

from animerec.embed.base import Embedder, normalize
from animerec.embed.cache import EmbeddingCache
from animerec.text import text_hash
from animerec.workspace import Workspace

__all__ = [
    "adapt_vectors",
    "adapted_model",
    "cached_text_embedding",
    "identity_dense",
    "prime_cache",
    "training_model",
]

# torch and sentence-transformers load inside the functions: together they take ~13 s to import
# (measured), and this module is imported by every `animerec` command through the finetune package.


@functools.cache
def _lookup_module() -> type:
    """The :class:`CachedTextEmbedding` class (made on first use: it subclasses a
    sentence-transformers module)."""
    import torch
    from sentence_transformers.base.modules.input_module import InputModule

    class CachedTextEmbedding(InputModule):
        """A training-time stand-in for a frozen encoder: each known text's precomputed vector.

        Never saved (the saved model puts the real encoder in its place). A text it does not know is
        an error, not a silent zero.
        """

        def __init__(
            self, texts: Sequence[str], vectors: np.ndarray, max_seq_length: int | None = None
        ):
            super().__init__()
            vectors = np.asarray(vectors, dtype=np.float32)
            if len(texts) != len(vectors):
                raise ValueError(f"{len(texts)} texts but {len(vectors)} vectors")
            self.index = {t: i for i, t in enumerate(texts)}
            self.register_buffer("table", torch.from_numpy(vectors.copy()), persistent=False)
            self.max_seq_length = max_seq_length

        def preprocess(self, inputs: Sequence[Any], prompt: str | None = None, **kwargs) -> dict:
            try:
                rows = [self.index[t] for t in inputs]
            except KeyError as exc:
                raise KeyError(f"no cached vector for text {str(exc)[:80]}…") from None
            # "input_ids" is the key the trainer recognises an input column by: here, table rows.
            return {"input_ids": torch.tensor(rows, dtype=torch.long)}

        def forward(self, features: dict[str, Any], **kwargs) -> dict[str, Any]:
            features["sentence_embedding"] = self.table[features["input_ids"].to(self.table.device)]
            return features

        def get_embedding_dimension(self) -> int:
            return int(self.table.shape[1])

        def save(self, output_path: str, *args, **kwargs) -> None:  # pragma: no cover - by design
            raise NotImplementedError(
                "CachedTextEmbedding is a training stand-in and is never saved"
            )

    return CachedTextEmbedding


def cached_text_embedding(
    texts: Sequence[str], vectors: np.ndarray, max_seq_length: int | None = None
) -> Any:
    """A ``CachedTextEmbedding`` module: each of ``texts`` maps to its row of ``vectors``."""
    return _lookup_module()(texts, vectors, max_seq_length)


def identity_dense(dim: int) -> Any:
    """A ``Dense`` layer that starts as the identity (training starts from the base model)."""
    import torch
    from sentence_transformers.base.modules import Dense

    return Dense(
        dim,
        dim,
        bias=True,
        activation_function=None,
        init_weight=torch.eye(dim),
        init_bias=torch.zeros(dim),
    )


def training_model(
    texts: Sequence[str], vectors: np.ndarray, dense: Any, max_seq_length: int | None
) -> Any:
    """Lookup → ``Dense``: what the trainer trains (the ``Dense`` is shared with the final model)."""
    from sentence_transformers import SentenceTransformer

    lookup = cached_text_embedding(texts, vectors, max_seq_length)
    return SentenceTransformer(modules=[lookup, dense], device="cpu")


def adapted_model(base: Any, dense: Any) -> Any:
    """The base encoder's modules, then the trained ``Dense``, then ``Normalize``."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules import Normalize

    modules = [module for _, module in base.named_children()]
    if modules and isinstance(modules[-1], Normalize):
        modules = modules[:-1]
    # The cached vectors the Dense was trained on are unit vectors (Embedder.encode): normalise first.
    modules = [*modules, Normalize(), dense, Normalize()]
    model = SentenceTransformer(modules=modules, device=str(base.device))
    model.max_seq_length = base.max_seq_length
    return model


def adapt_vectors(dense: Any, vectors: np.ndarray) -> np.ndarray:
    """What the saved model computes from base unit vectors: ``Dense``, then unit length."""
    import torch

    with torch.no_grad():
        x = torch.from_numpy(np.ascontiguousarray(vectors, dtype=np.float32))
        out = dense({"sentence_embedding": x.to(dense.linear.weight.device)})["sentence_embedding"]
    return normalize(out.cpu().numpy())


def prime_cache(
    embedder: Embedder,
    texts: Sequence[str],
    vectors: np.ndarray,
    dense: Any,
    workspace: Workspace,
) -> int:
    """Put the adapted model's vectors of ``texts`` (from their base ``vectors``) into the
    workspace's embedding cache under ``embedder``'s name and fingerprint, so recommenders need not
    run the encoder over the catalog again; returns how many were added."""
    adapted = adapt_vectors(dense, vectors)
    keys = [text_hash(t) for t in texts]
    EmbeddingCache(workspace).add(
        embedder.name, keys, adapted, getattr(embedder, "fingerprint", None)
    )
    return len(keys)
