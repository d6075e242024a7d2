"""Sentence-transformers models run by onnxruntime, optionally with dynamic int8 weights.

On a CPU, int8 weights with small micro-batches run side by side make MiniLM 2.6–2.9× faster
than torch fp32 at a mean cosine of 0.994 (docs/benchmarks.md).
``sentence-transformers[onnx]`` does not resolve with sentence-transformers 6 (optimum pins an
old transformers), so the transformer is exported here with ``torch.onnx.export`` once per
model, quantised with ``onnxruntime.quantization``, and cached; tokenisation and pooling follow
the model's own files so the vectors match the torch path.

Dynamic int8 breaks mpnet (mean cosine to fp32 0.90 here, 0.76 in ``../shared/MODELS.md``;
MiniLM keeps 0.994), so int8 is refused for MPNet models unless forced.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import logging
import os
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from animerec.embed.base import Embedder
from animerec.embed.local import PROGRESS_MIN_TEXTS
from animerec.embed.registry import model_fingerprint
from animerec.errors import AnimerecError
from animerec.workspace import atomic_path, now_iso, write_json

if TYPE_CHECKING:
    import onnxruntime

FP32_FILE = "model.onnx"
INT8_FILE = "model_int8.onnx"
MANIFEST_FILE = "manifest.json"
OPSET = 17
TOKEN_BUDGET = 512  # padded tokens per micro-batch (benchmarks/encode_speed.py)
EXPORT_FORMAT = 2  # bump when the export recipe changes: cached files are then rebuilt
POOLING_MODES = ("mean", "cls", "max", "mean_sqrt_len_tokens")
# Architectures whose dynamic-int8 vectors are known to drift too far from fp32.
INT8_BREAKS = {
    "mpnet": "mean cosine to fp32 0.90 with per-channel weights, top-10 neighbour overlap 0.71 "
    "(docs/benchmarks.md); 0.76 per tensor (../shared/MODELS.md)"
}
_SUPPORTED_MODULES = ("Transformer", "Pooling", "Normalize")
_OLD_POOLING_KEYS = {
    "pooling_mode_cls_token": "cls",  # nosec B105  # a pooling mode name, not a password
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
}


def _read(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def _modules(model_dir: Path) -> list[dict]:
    modules = json.loads((model_dir / "modules.json").read_text())
    kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
    unsupported = [k for k in kinds if k not in _SUPPORTED_MODULES]
    if unsupported or not kinds or kinds[0] != "Transformer" or "Pooling" not in kinds:
        raise AnimerecError(
            f"the ONNX backend runs Transformer + Pooling (+ Normalize) models; {model_dir} has "
            f"{' + '.join(kinds)}: use backend torch"
        )
    return modules


def pooling_mode(model_dir: str | os.PathLike[str]) -> str:
    """The pooling of a sentence-transformers directory, from its ``*_Pooling/config.json``
    (the sentence-transformers 6 ``pooling_mode`` key or the older ``pooling_mode_*`` flags)."""
    model_dir = Path(model_dir)
    entry = next(m for m in _modules(model_dir) if m["type"].endswith("Pooling"))
    cfg = _read(model_dir / entry["path"] / "config.json")
    if "pooling_mode" in cfg:
        mode = cfg["pooling_mode"]
        modes = [mode] if isinstance(mode, str) else list(mode)
    else:
        modes = [mode for key, mode in _OLD_POOLING_KEYS.items() if cfg.get(key)]
    if len(modes) != 1 or modes[0] not in POOLING_MODES:
        raise AnimerecError(
            f"the ONNX backend supports one of {', '.join(POOLING_MODES)} pooling; "
            f"{model_dir} uses {modes or cfg}: use backend torch"
        )
    return modes[0]


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


# --- export -------------------------------------------------------------------------------------
def export_onnx(
    model_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str], quantize: bool
) -> Path:
    """The ONNX file of ``model_dir`` (int8 if ``quantize``), exported on first use into
    ``out_dir`` and reused while the model's files keep their fingerprint."""
    model_dir, out_dir = Path(model_dir), Path(out_dir)
    _modules(model_dir)
    fingerprint = model_fingerprint(model_dir)
    manifest = _read(out_dir / MANIFEST_FILE)
    current = {"fingerprint": fingerprint, "format": EXPORT_FORMAT, "opset": OPSET}
    if any(manifest.get(k) != v for k, v in current.items()):  # new, retrained or old recipe
        for stale in (FP32_FILE, INT8_FILE, MANIFEST_FILE):
            (out_dir / stale).unlink(missing_ok=True)
        manifest = {"source": str(model_dir), **current}
    fp32 = out_dir / FP32_FILE
    if not fp32.exists():
        out_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=out_dir, prefix=".export.") as tmp:
            raw = Path(tmp) / "raw.onnx"
            _export_fp32(model_dir, raw)
            fused = _fuse_transformer_ops(raw, Path(tmp) / "fused.onnx", model_dir)
            os.replace(fused or raw, fp32)
        manifest.update(exported=now_iso(), fused=fused is not None)
        write_json(out_dir / MANIFEST_FILE, manifest)
    if not quantize:
        return fp32
    int8 = out_dir / INT8_FILE
    if not int8.exists():
        with atomic_path(int8) as tmp:
            quantize_int8(fp32, tmp)
        manifest["quantized"] = now_iso()
        write_json(out_dir / MANIFEST_FILE, manifest)
    return int8


def _export_fp32(model_dir: Path, target: Path) -> None:
    import torch
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(model_dir), device="cpu")
    transformer = st[0]
    hf, tokenizer = transformer.auto_model.eval(), transformer.tokenizer
    # Plain (eager) attention traces to the textbook graph that onnxruntime fuses into its
    # Attention kernel; the default SDPA path traces to mask arithmetic nothing recognises.
    with contextlib.suppress(AttributeError, ValueError):
        hf.set_attn_implementation("eager")
    accepted = inspect.signature(hf.forward).parameters
    names = [
        n
        for n in ("input_ids", "attention_mask", "token_type_ids")
        if n in accepted and (n in tokenizer.model_input_names or n == "attention_mask")
    ]
    # Texts of different lengths, so the traced graph takes the padded-attention path.
    sample = tokenizer(
        ["an example", "a longer example sentence, so that the batch needs padding"],
        padding=True,
        return_tensors="pt",
    )

    class TokenEmbeddings(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.hf = hf

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            return self.hf(**dict(zip(names, inputs, strict=True))).last_hidden_state

    axes = {n: {0: "batch", 1: "sequence"} for n in [*names, "token_embeddings"]}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer chatter about the legacy exporter
        torch.onnx.export(
            TokenEmbeddings().eval(),
            tuple(sample[n] for n in names),
            str(target),
            dynamo=False,  # the dynamo exporter needs onnxscript, which is not a dependency
            input_names=names,
            output_names=["token_embeddings"],
            dynamic_axes=axes,
            opset_version=OPSET,
            do_constant_folding=True,
        )


def _fuse_transformer_ops(raw: Path, target: Path, model_dir: Path) -> Path | None:
    """onnxruntime's BERT fusions (Attention, SkipLayerNorm, BiasGelu, EmbedLayerNorm): faster
    fp32, and an int8 graph whose attention runs as QAttention. None where they do not apply."""
    config = _read(model_dir / "config.json")
    if config.get("model_type") != "bert":
        return None
    from onnxruntime.transformers import optimizer

    with _quiet_logging():
        model = optimizer.optimize_model(
            str(raw),
            model_type="bert",
            num_heads=int(config["num_attention_heads"]),
            hidden_size=int(config["hidden_size"]),
        )
    if not model.get_fused_operator_statistics().get("Attention"):
        return None  # the pattern was not recognised: keep the plain graph
    model.save_model_to_file(str(target))
    return target


@contextlib.contextmanager
def _quiet_logging() -> Iterator[None]:
    """onnxruntime's optimiser and quantiser log advice at WARNING on the root logger."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def quantize_int8(fp32: Path, target: Path) -> None:
    """Dynamic int8: weights per output channel (per-tensor scales cost MiniLM ~0.05 cosine),
    activations quantised at run time. Only weight MatMuls and fused Attention are quantised."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with _quiet_logging():
        quantize_dynamic(
            str(fp32),
            str(target),
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=["MatMul", "Attention"],
            # Fused contrib ops defeat shape inference; their outputs are float.
            extra_options={"DefaultTensorType": 1},
        )


# --- the embedder -------------------------------------------------------------------------------
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
            from animerec.embed.registry import cache_root

            export_dir = cache_root() / "onnx" / self.model_dir.name
        self.export_dir = Path(export_dir)
        self.threads = threads
        self.progress = progress
        self.pooling = pooling_mode(self.model_dir)
        config = _read(self.model_dir / "config.json")
        model_type = str(config.get("model_type", ""))
        if quantize and model_type in INT8_BREAKS and not force_int8:
            raise AnimerecError(
                f"dynamic int8 breaks {model_type} models ({INT8_BREAKS[model_type]}); use backend "
                "onnx or torch (fp32) for it, or pass force_int8=True to quantise anyway"
            )
        self._dim = int(config.get("hidden_size") or 0)
        self.lower_case = bool(
            _read(self.model_dir / "sentence_bert_config.json").get("do_lower_case")
        )

    @property
    def dim(self) -> int:
        if not self._dim:
            self._dim = int(self.session.get_outputs()[0].shape[-1])
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
            out[idx] = pool(self.session.run(None, feeds)[0], mask, self.pooling)

        from concurrent.futures import ThreadPoolExecutor

        from tqdm.auto import tqdm

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
