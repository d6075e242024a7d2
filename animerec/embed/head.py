"""The layers a sentence-transformers model puts after pooling (Normalize, Dense), run in numpy.

An adapter (:mod:`animerec.finetune.adapter`) is the frozen encoder's Transformer and Pooling
followed by Normalize → a trained Dense → Normalize. The ONNX backend exports and runs only the
transformer; these few matrix products run here on the pooled vectors, so the int8 encoder serves
a fine-tuned adapter as well as its base (``scripts/main.sh`` encodes both that way).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from animerec.errors import AnimerecError

__all__ = ["HEAD_MODULES", "Head", "read_head"]

HEAD_MODULES = ("Normalize", "Dense")
"""Module types allowed after Pooling."""
_IDENTITY = ("torch.nn.modules.linear.Identity", "Identity", None)
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def _kind(module: dict) -> str:
    return str(module["type"]).rsplit(".", 1)[-1]


@dataclass(frozen=True)
class Head:
    """Steps after pooling: ``None`` is a unit-length normalisation, ``(W, b)`` a linear layer."""

    steps: tuple[tuple[np.ndarray, np.ndarray] | None, ...] = ()

    def out_dim(self, in_dim: int) -> int:
        """The width of the vectors the head returns for ``in_dim``-wide pooled vectors."""
        dims = [w.shape[0] for step in self.steps if step is not None for w in step[:1]]
        return dims[-1] if dims else in_dim

    def __call__(self, pooled: np.ndarray) -> np.ndarray:
        x = np.asarray(pooled, dtype=np.float32)
        for step in self.steps:
            if step is None:
                x = x / np.clip(np.linalg.norm(x, axis=1, keepdims=True), 1e-12, None)
            else:
                weight, bias = step
                x = x @ weight.T + bias
        return x.astype(np.float32, copy=False)


def _dense(model_dir: Path, module: dict) -> tuple[np.ndarray, np.ndarray]:
    folder = model_dir / module["path"]
    config_path = folder / "config.json"
    try:
        config = json.loads(config_path.read_text())
    except (OSError, ValueError) as exc:
        raise AnimerecError(f"Dense layer config {config_path} is unreadable: {exc}") from None
    activation = config.get("activation_function")
    if activation not in _IDENTITY:
        raise AnimerecError(
            f"{config_path}: activation {activation!r} is not supported by the ONNX backend "
            "(only the identity, as animerec's adapters use): use backend torch"
        )
    tensors = _load_weights(folder)
    try:
        weight = np.asarray(tensors["linear.weight"], np.float32)
    except KeyError:
        raise AnimerecError(f"{folder}: no 'linear.weight' tensor in its weights") from None
    out_features, in_features = weight.shape
    expected = (config.get("out_features"), config.get("in_features"))
    if expected != (out_features, in_features):
        raise AnimerecError(
            f"{folder}: weights are {out_features}×{in_features} but config.json says "
            f"{expected[0]}×{expected[1]}"
        )
    bias = tensors.get("linear.bias")
    bias = np.zeros(out_features, np.float32) if bias is None else np.asarray(bias, np.float32)
    return weight, bias


def _load_weights(folder: Path) -> dict[str, np.ndarray]:
    for name in _WEIGHT_FILES:
        path = folder / name
        if not path.exists():
            continue
        if name.endswith(".safetensors"):
            from safetensors.numpy import load_file

            return load_file(str(path))
        import torch

        state = torch.load(path, map_location="cpu", weights_only=True)
        return {k: v.numpy() for k, v in state.items()}
    raise AnimerecError(f"{folder}: no weights ({' or '.join(_WEIGHT_FILES)})")


def read_head(model_dir: str | os.PathLike[str], modules: list[dict]) -> Head:
    """The :class:`Head` of the modules after Pooling in ``modules`` (``modules.json``'s list)."""
    model_dir = Path(model_dir)
    kinds = [_kind(m) for m in modules]
    if "Pooling" not in kinds:
        raise AnimerecError(f"{model_dir} has no Pooling module")
    steps: list[tuple[np.ndarray, np.ndarray] | None] = []
    for module in modules[kinds.index("Pooling") + 1 :]:
        kind = _kind(module)
        if kind == "Normalize":
            steps.append(None)
        elif kind == "Dense":
            steps.append(_dense(model_dir, module))
        else:
            raise AnimerecError(
                f"{model_dir}: module {kind} after Pooling is not supported by the ONNX backend "
                f"(only {', '.join(HEAD_MODULES)}): use backend torch"
            )
    return Head(tuple(steps))
