"""Embedder names → models, so every command can say ``minilm``, ``mpnet`` or a fine-tuned name.

A name resolves, in order, to packaged weights (:mod:`animerec.embed.packaged`), a fine-tuned
model in the workspace, a model directory, or a Hugging Face hub name (refused with a clear error
while the hub is offline, unless cached). :func:`get_embedder` then builds the torch, ONNX or
OpenAI-compatible embedder under a name that records everything that changes its vectors.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from animerec.embed.base import Embedder
from animerec.embed.local import SentenceTransformerEmbedder
from animerec.embed.model_dir import (
    TRAINING_USERS_FILE,
    cache_root,
    is_sentence_transformers_dir,
    model_token_limit,
    read_max_seq_length,
)
from animerec.embed.onnx import OnnxEmbedder
from animerec.embed.openai import OpenAIEmbedder, OpenAISettings
from animerec.embed.packaged import MINILM, PACKAGED, PackagedModel, packaged_dir
from animerec.errors import AnimerecError
from animerec.workspace import Workspace

__all__ = [
    "AUTO",
    "BACKENDS",
    "DEFAULT_FINETUNED",
    "MINILM",
    "OPENAI_PREFIX",
    "REGISTRY",
    "Backend",
    "ResolvedModel",
    "check_backend",
    "get_embedder",
    "hub_offline",
    "onnx_export_dir",
    "resolve_auto",
    "resolve_model_dir",
    "training_users",
]

AUTO = "auto"
"""Embedder name that means: the workspace's fine-tuned :data:`DEFAULT_FINETUNED` when it exists,
else the packaged MiniLM. The default of the content and hybrid recommenders."""
DEFAULT_FINETUNED = "anime-minilm"
"""What ``animerec finetune`` saves by default, and what ``auto`` picks up."""
OPENAI_PREFIX = "openai:"
Backend = Literal["torch", "onnx", "onnx-int8"]
BACKENDS: tuple[str, ...] = ("torch", "onnx", "onnx-int8")
REGISTRY: dict[str, PackagedModel] = PACKAGED
"""The names that load packaged weights (``minilm``, ``mpnet``)."""


def check_backend(backend: str) -> None:
    """A clear error for a backend that does not exist (before any model is loaded)."""
    if backend not in BACKENDS:
        raise AnimerecError(
            f"unknown embedder backend {backend!r}; choose one of {', '.join(BACKENDS)}"
        )


def hub_offline() -> bool:
    """Same rule as huggingface_hub, read at call time (tests set it after import)."""
    value = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or ""
    return value.strip().upper() in {"1", "ON", "YES", "TRUE"}


# --- resolution ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class ResolvedModel:
    """Where a name points, and what the embedder name and caches need to know about it."""

    source: str  # local directory, or a hub name
    key: str  # short label used in Embedder.name (``minilm``, ``ft-cosent``, a hub name)
    default_max_seq_length: int | None
    local: bool
    workspace_model: bool


def _path_key(path: Path) -> str:
    """A label for a model given by path: its folder name plus a short hash of where it is."""
    digest = hashlib.sha1(str(path.resolve()).encode(), usedforsecurity=False).hexdigest()[:6]
    return f"{path.name}-{digest}"


def resolve_auto(name: str, workspace: Workspace | None) -> str:
    """``auto`` → the workspace's :data:`DEFAULT_FINETUNED` model if it was trained, else
    ``minilm``; any other name unchanged."""
    if name != AUTO:
        return name
    if workspace is not None and is_sentence_transformers_dir(
        workspace.models_dir / DEFAULT_FINETUNED
    ):
        return DEFAULT_FINETUNED
    return "minilm"


def training_users(name: str, workspace: Workspace | None = None) -> np.ndarray | None:
    """Ids of the users a fine-tuned embedder learned from; None for models animerec did not
    fine-tune (the packaged and hub models learned from no MyAnimeList user)."""
    resolved = _resolve(name, workspace)
    path = Path(resolved.source) / TRAINING_USERS_FILE
    if not (resolved.local and path.exists()):
        return None
    return np.load(path, allow_pickle=False)


def _resolve(name: str, workspace: Workspace | None) -> ResolvedModel:
    if not name or not name.strip():
        raise AnimerecError("embedder name is empty")
    name = resolve_auto(name, workspace)
    if name in REGISTRY:
        spec = REGISTRY[name]
        return ResolvedModel(str(packaged_dir(spec)), spec.key, spec.max_seq_length, True, False)
    if workspace is not None and re.fullmatch(r"[\w.+-]+", name):
        candidate = workspace.models_dir / name
        if is_sentence_transformers_dir(candidate):
            return ResolvedModel(str(candidate), name, read_max_seq_length(candidate), True, True)
    path = Path(name).expanduser()
    if path.exists():
        if not is_sentence_transformers_dir(path):
            raise AnimerecError(
                f"{path} is not a sentence-transformers model directory (no modules.json)"
            )
        return ResolvedModel(str(path), _path_key(path), read_max_seq_length(path), True, False)
    if hub_offline():
        cached = _hub_cache_dir(name)
        if cached is not None:
            return ResolvedModel(str(cached), name, read_max_seq_length(cached), True, False)
        where = f" or {workspace.models_dir}" if workspace is not None else ""
        raise AnimerecError(
            f"unknown embedder {name!r}: not one of {', '.join(REGISTRY)}, not a fine-tuned model "
            f"in a workspace{where}, not a local directory, and HF_HUB_OFFLINE is set, so the "
            "Hugging Face hub cannot be asked (unset HF_HUB_OFFLINE/TRANSFORMERS_OFFLINE to download it)"
        )
    return ResolvedModel(name, name, None, False, False)


def _hub_cache_dir(name: str) -> Path | None:
    """The snapshot folder of a hub model downloaded earlier, if any."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - ships with sentence-transformers
        return None
    for repo in (name, f"sentence-transformers/{name}"):
        try:
            hit = try_to_load_from_cache(repo, "modules.json")
        except Exception:  # nosec B112  # an invalid repo id is just not a cached model
            continue
        if isinstance(hit, str):
            return Path(hit).parent
    return None


def resolve_model_dir(name: str, workspace: Workspace | None = None) -> str:
    """A registry name, fine-tuned model name, path or hub name → what SentenceTransformer loads.

    Order: registry (``minilm``, ``mpnet``), ``WS/models/<name>/``, an existing directory, else a
    hub name returned as is (refused with a clear error while the hub is offline, unless cached).
    """
    return _resolve(name, workspace).source


def onnx_export_dir(resolved: ResolvedModel, workspace: Workspace | None) -> Path:
    """Where the ONNX files of a model are cached: with the workspace for fine-tuned models."""
    if resolved.workspace_model and workspace is not None:
        return workspace.sub("onnx", resolved.key)
    safe = re.sub(r"[^\w.+-]", "_", resolved.key)
    return cache_root() / "onnx" / safe


def get_embedder(
    name: str,
    *,
    workspace: Workspace | None = None,
    max_seq_length: int | None = None,
    backend: Backend = "torch",
    device: str | None = None,
    force_int8: bool = False,
) -> Embedder:
    """The embedder called ``name``; ``openai:<model>`` goes to an OpenAI-compatible API.

    ``Embedder.name`` records everything that changes the vectors (``minilm@256``,
    ``minilm@256+onnx-int8``), because the embedding cache keys on it.
    """
    check_backend(backend)
    if name.startswith(OPENAI_PREFIX):
        if backend != "torch" or max_seq_length is not None:
            raise AnimerecError("backend and max_seq_length apply to local models, not openai:*")
        return OpenAIEmbedder(OpenAISettings.from_env(name[len(OPENAI_PREFIX) :]))

    resolved = _resolve(name, workspace)
    seq = max_seq_length if max_seq_length is not None else resolved.default_max_seq_length
    if seq is None and resolved.local:
        seq = model_token_limit(resolved.source)
    if seq is not None:
        limit = model_token_limit(resolved.source) if resolved.local else None
        if seq < 1 or (limit is not None and seq > limit):
            raise AnimerecError(
                f"max_seq_length {seq} is out of range for {name!r} (1..{limit or 'model limit'})"
            )
    label = f"{resolved.key}@{seq}" if seq is not None else None

    if backend == "torch":
        return SentenceTransformerEmbedder(
            resolved.source, name=label, max_seq_length=seq, device=device
        )

    if not resolved.local:
        raise AnimerecError(
            f"the ONNX backend needs a local model directory; {name!r} is a hub name"
        )
    if label is None:
        raise AnimerecError(f"give max_seq_length for {name!r}: its directory does not say it")
    return OnnxEmbedder(
        resolved.source,
        name=f"{label}+{backend}",
        max_seq_length=seq,
        quantize=backend == "onnx-int8",
        export_dir=onnx_export_dir(resolved, workspace),
        force_int8=force_int8,
    )
