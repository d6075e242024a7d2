"""Export a sentence-transformers model to ONNX (fp32, and dynamic int8), cached per model.

``sentence-transformers[onnx]`` does not resolve with sentence-transformers 6 (optimum pins an
old transformers), so the transformer is exported here with ``torch.onnx.export`` once per
model, fused with onnxruntime's BERT optimiser where it applies, quantised with
``onnxruntime.quantization``, and cached next to a manifest: a retrained model (new fingerprint)
or a new export recipe (:data:`EXPORT_FORMAT`) is exported again. Tokenisation and pooling are the
runtime's (:mod:`animerec.embed.onnx`).

torch, onnxruntime and sentence-transformers load inside the functions (≈ 13 s of imports,
measured, that no command which only reads cached files should pay).
"""

from __future__ import annotations

import contextlib
import inspect
import json
import logging
import os
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

from animerec.embed.head import HEAD_MODULES
from animerec.embed.model_dir import model_fingerprint, read_config
from animerec.errors import AnimerecError
from animerec.workspace import atomic_path, now_iso, write_json

__all__ = [
    "EXPORT_FORMAT",
    "FP32_FILE",
    "INT8_FILE",
    "MANIFEST_FILE",
    "OPSET",
    "POOLING_MODES",
    "export_onnx",
    "pooling_mode",
    "quantize_int8",
    "supported_modules",
]

FP32_FILE = "model.onnx"
INT8_FILE = "model_int8.onnx"
MANIFEST_FILE = "manifest.json"
OPSET = 17
EXPORT_FORMAT = 2  # bump when the export recipe changes: cached files are then rebuilt
POOLING_MODES = ("mean", "cls", "max", "mean_sqrt_len_tokens")
_SUPPORTED_MODULES = ("Transformer", "Pooling", *HEAD_MODULES)
_OLD_POOLING_KEYS = {
    "pooling_mode_cls_token": "cls",  # nosec B105  # a pooling mode name, not a password
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
}


def supported_modules(model_dir: Path) -> list[dict]:
    """``modules.json`` of a model the ONNX backend can run: Transformer + Pooling, then any
    Normalize/Dense layers (an adapter's; :mod:`animerec.embed.head` runs them)."""
    modules = json.loads((model_dir / "modules.json").read_text())
    kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
    unsupported = [k for k in kinds if k not in _SUPPORTED_MODULES]
    if unsupported or not kinds or kinds[0] != "Transformer" or "Pooling" not in kinds:
        raise AnimerecError(
            f"the ONNX backend runs Transformer + Pooling (+ Normalize/Dense) models; {model_dir} has "
            f"{' + '.join(kinds)}: use backend torch"
        )
    return modules


def pooling_mode(model_dir: str | os.PathLike[str]) -> str:
    """The pooling of a sentence-transformers directory, from its ``*_Pooling/config.json``
    (the sentence-transformers 6 ``pooling_mode`` key or the older ``pooling_mode_*`` flags)."""
    model_dir = Path(model_dir)
    entry = next(m for m in supported_modules(model_dir) if m["type"].endswith("Pooling"))
    cfg = read_config(model_dir / entry["path"] / "config.json")
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


def export_onnx(
    model_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str], quantize: bool
) -> Path:
    """The ONNX file of ``model_dir`` (int8 if ``quantize``), exported on first use into
    ``out_dir`` and reused while the model's files keep their fingerprint."""
    model_dir, out_dir = Path(model_dir), Path(out_dir)
    supported_modules(model_dir)
    fingerprint = model_fingerprint(model_dir)
    manifest = read_config(out_dir / MANIFEST_FILE)
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
    config = read_config(model_dir / "config.json")
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
