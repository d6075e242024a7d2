"""What a sentence-transformers model folder says about itself, and where derived folders live.

Plain file reading (no torch): the registry, the fine-tuning run, the ONNX export and both
embedders ask these questions of a model directory before (or instead of) loading it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from animerec.workspace import fingerprint_files

__all__ = [
    "CACHE_ENV",
    "TRAINING_USERS_FILE",
    "cache_root",
    "is_sentence_transformers_dir",
    "model_fingerprint",
    "model_token_limit",
    "read_config",
    "read_max_seq_length",
]

CACHE_ENV = "ANIMEREC_CACHE"
TRAINING_USERS_FILE = "training_users.npy"
"""Ids of the users whose ratings fine-tuned a model (next to its weights)."""

# Position ids of RoBERTa-style models start after the padding id, so fewer tokens fit.
_POSITION_OFFSET_TYPES = {"mpnet", "roberta", "xlm-roberta", "camembert"}


def cache_root() -> Path:
    """Where derived model files live outside a workspace: ``$ANIMEREC_CACHE`` or ``~/.cache/animerec``."""
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path.home() / ".cache" / "animerec"


def is_sentence_transformers_dir(path: str | os.PathLike[str]) -> bool:
    """A folder sentence-transformers can load (it has ``modules.json`` or its config)."""
    p = Path(path)
    return p.is_dir() and (
        (p / "modules.json").exists() or (p / "config_sentence_transformers.json").exists()
    )


def read_config(path: Path) -> dict:
    """A JSON file of a model folder ({} when it is missing)."""
    return json.loads(path.read_text()) if path.exists() else {}


def read_max_seq_length(model_dir: str | os.PathLike[str]) -> int | None:
    """The model's own max_seq_length: ``sentence_bert_config.json`` (sentence-transformers < 6),
    else the tokenizer's ``model_max_length`` (where sentence-transformers 6 saves it)."""
    d = Path(model_dir)
    for file, key in (
        ("sentence_bert_config.json", "max_seq_length"),
        ("tokenizer_config.json", "model_max_length"),
    ):
        value = read_config(d / file).get(key)
        if isinstance(value, int) and 0 < value < 1_000_000:
            return value
    return None


def model_token_limit(model_dir: str | os.PathLike[str]) -> int | None:
    """The most tokens the model's position embeddings take (512 for MiniLM and mpnet)."""
    config = read_config(Path(model_dir) / "config.json")
    limit = config.get("max_position_embeddings")
    if not isinstance(limit, int) or limit <= 0:
        return None
    if config.get("model_type") in _POSITION_OFFSET_TYPES:
        limit -= int(config.get("pad_token_id") or 0) + 1
    return limit


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
