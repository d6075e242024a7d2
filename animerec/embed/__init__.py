"""Text embedders behind one contract (:class:`Embedder`), their registry, and the cache.

``get_embedder("minilm")`` gives the packaged MiniLM; ``mpnet``, a fine-tuned model's name, a
model directory, a hub name and ``openai:<model>`` work the same way. Heavy libraries (torch,
onnxruntime, httpx) load only when an embedder first encodes.
"""

from animerec.embed.base import Embedder, normalize
from animerec.embed.cache import EmbeddingCache, cached_encode, catalog_embeddings, text_hash
from animerec.embed.local import SentenceTransformerEmbedder
from animerec.embed.model_dir import cache_root
from animerec.embed.onnx import OnnxEmbedder
from animerec.embed.onnx_export import export_onnx
from animerec.embed.openai import EmbeddingAPIError, OpenAIEmbedder, OpenAISettings
from animerec.embed.registry import BACKENDS, REGISTRY, get_embedder, resolve_model_dir

__all__ = [
    "BACKENDS",
    "REGISTRY",
    "Embedder",
    "EmbeddingAPIError",
    "EmbeddingCache",
    "OnnxEmbedder",
    "OpenAIEmbedder",
    "OpenAISettings",
    "SentenceTransformerEmbedder",
    "cache_root",
    "cached_encode",
    "catalog_embeddings",
    "export_onnx",
    "get_embedder",
    "normalize",
    "resolve_model_dir",
    "text_hash",
]
