"""Sentence-transformers models run by onnxruntime, optionally with dynamic int8 weights.

On a CPU, int8 weights with small micro-batches run side by side make MiniLM 2.6–2.9× faster
than torch fp32 at a mean cosine of 0.994 (docs/benchmarks.md). The ONNX files come from
:mod:`animerec.embed.onnx_export` (exported once per model); tokenisation and pooling follow the
model's own files so the vectors match the torch path.

Dynamic int8 breaks mpnet (mean cosine to fp32 0.90 here, 0.76 in ``../shared/MODELS.md``;
MiniLM keeps 0.994), so int8 is refused for MPNet models unless forced.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm.auto import tqdm

from animerec.embed.base import Embedder
from animerec.embed.head import read_head
from animerec.embed.local import PROGRESS_MIN_TEXTS
from animerec.embed.model_dir import cache_root, model_fingerprint, read_config
from animerec.embed.onnx_export import EXPORT_FORMAT, export_onnx, pooling_mode, supported_modules
from animerec.errors import AnimerecError

if TYPE_CHECKING:
    import onnxruntime

__all__ = ["INT8_BREAKS", "TOKEN_BUDGET", "OnnxEmbedder", "pool"]

TOKEN_BUDGET = 512  # padded tokens per micro-batch (benchmarks/encode_speed.py)
# Architectures whose dynamic-int8 vectors are known to drift too far from fp32.
INT8_BREAKS = {
    "mpnet": "mean cosine to fp32 0.90 with per-channel weights, top-10 neighbour overlap 0.71 "
    "(docs/benchmarks.md); 0.76 per tensor (../shared/MODELS.md)"
}


def pool(tokens: np.ndarray, mask: np.ndarray, mode: str) -> np.ndarray:
    """Sentence vectors from token vectors ``[b, s, h]`` and the attention mask ``[b, s]``."""
    if mode == "cls":
        return tokens[:, 0]
    m = mask[..., None].astype(tokens.dtype)
    if mode == "max":
        return np.where(m > 0, tokens, -1e9).max(axis=1)
    summed = (tokens * m).sum(axis=1)
    counts = np.clip(m.sum(axis=1), 1e-9, None)
    return summed / (np.sqrt(counts) if mode == "mean_sqrt_len_tokens" else counts)


class OnnxEmbedder(Embedder):
    """A local sentence-transformers model run by onnxruntime (fp32, or int8 if ``quantize``)."""

    def __init__(
        self,
        model_dir: str | os.PathLike[str],
        name: str,
        max_seq_length: int,
        quantize: bool = False,
        export_dir: str | os.PathLike[str] | None = None,
        force_int8: bool = False,
        threads: int | None = None,
        progress: bool | None = None,
    ) -> None:
        self.model_dir = Path(model_dir)
        self.name = name
        self.max_seq_length = max_seq_length
        self.quantize = quantize
        if export_dir is None:
            export_dir = cache_root() / "onnx" / self.model_dir.name
        self.export_dir = Path(export_dir)
        self.threads = threads
        self.progress = progress
        self.pooling = pooling_mode(self.model_dir)
        config = read_config(self.model_dir / "config.json")
        model_type = str(config.get("model_type", ""))
        if quantize and model_type in INT8_BREAKS and not force_int8:
            raise AnimerecError(
                f"dynamic int8 breaks {model_type} models ({INT8_BREAKS[model_type]}); use backend "
                "onnx or torch (fp32) for it, or pass force_int8=True to quantise anyway"
            )
        # What follows pooling (an adapter's Normalize → Dense → Normalize) runs in numpy.
        self.head = read_head(self.model_dir, supported_modules(self.model_dir))
        hidden = int(config.get("hidden_size") or 0)
        self._dim = self.head.out_dim(hidden) if hidden else 0
        self.lower_case = bool(
            read_config(self.model_dir / "sentence_bert_config.json").get("do_lower_case")
        )

    @property
    def dim(self) -> int:
        if not self._dim:
            self._dim = self.head.out_dim(int(self.session.get_outputs()[0].shape[-1]))
        return self._dim

    @cached_property
    def fingerprint(self) -> str:
        """The weights' fingerprint and the export recipe: either changes the vectors."""
        return f"{model_fingerprint(self.model_dir)}-onnx{EXPORT_FORMAT}"

    @cached_property
    def onnx_path(self) -> Path:
        return export_onnx(self.model_dir, self.export_dir, self.quantize)

    @cached_property
    def workers(self) -> int:
        """Micro-batches run side by side, one onnxruntime thread each: on small batches this
        beats splitting every operator across threads (docs/benchmarks.md)."""
        if self.threads:
            return max(1, self.threads)
        if hasattr(os, "sched_getaffinity"):
            return max(1, len(os.sched_getaffinity(0)))
        return os.cpu_count() or 1

    @cached_property
    def session(self) -> onnxruntime.InferenceSession:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # parallel across micro-batches instead (``workers``)
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return ort.InferenceSession(
            str(self.onnx_path), options, providers=["CPUExecutionProvider"]
        )

    @cached_property
    def tokenizer(self) -> Any:  # a transformers tokenizer
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(str(self.model_dir))  # nosec B615  # a local folder

    def micro_batches(self, lengths: np.ndarray, batch_size: int) -> list[np.ndarray]:
        """Indices grouped longest first (batches of similar length pad little), each group
        holding at most ``batch_size`` texts and about ``TOKEN_BUDGET`` padded tokens: small
        batches stay in cache, which int8 kernels reward and torch's do not (docs/benchmarks.md)."""
        order = np.argsort(-lengths, kind="stable")
        groups, start = [], 0
        while start < len(order):
            size = min(batch_size, max(1, TOKEN_BUDGET // max(1, int(lengths[order[start]]))))
            groups.append(order[start : start + size])
            start += size
        return groups

    def _encode(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        if self.lower_case:
            texts = [t.lower() for t in texts]
        out = np.empty((len(texts), self.dim), np.float32)
        if not texts:
            return out
        tokens = self.tokenizer(list(texts), truncation=True, max_length=self.max_seq_length)
        lengths = np.array([len(ids) for ids in tokens["input_ids"]])
        # Fused graphs may take int32 ids.
        wanted = {
            i.name: np.int32 if i.type == "tensor(int32)" else np.int64
            for i in self.session.get_inputs()
        }
        pad_id = self.tokenizer.pad_token_id or 0

        def run(idx: np.ndarray) -> None:
            width = int(lengths[idx].max())
            mask = np.arange(width)[None, :] < lengths[idx][:, None]
            feeds = {}
            for name, dtype in wanted.items():
                if name == "attention_mask":
                    feeds[name] = mask.astype(dtype)
                    continue
                batch = np.full((len(idx), width), pad_id if name == "input_ids" else 0, dtype)
                if name in tokens:
                    for row, i in enumerate(idx):
                        batch[row, : lengths[i]] = tokens[name][i]
                feeds[name] = batch
            out[idx] = self.head(pool(self.session.run(None, feeds)[0], mask, self.pooling))

        groups = self.micro_batches(lengths, batch_size)
        show = self.progress if self.progress is not None else len(texts) >= PROGRESS_MIN_TEXTS
        workers = min(self.workers, len(groups))
        if workers == 1:  # a query or two: no thread pool to start
            for group in tqdm(groups, desc="Batches", disable=not show):
                run(group)
            return out
        with ThreadPoolExecutor(workers) as pool_:  # onnxruntime releases the GIL
            done = pool_.map(run, groups)
            for _ in tqdm(done, total=len(groups), desc="Batches", disable=not show):
                pass
        return out

    def __repr__(self) -> str:
        return f"OnnxEmbedder({self.name!r}, onnx={self.export_dir})"
