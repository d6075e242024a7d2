"""The tokenizer of an embedder, by the same names the registry resolves (for token-length stats).

``animerec describe --stats --tokenizer minilm`` counts tokens with the tokenizer the embedder will
use, so the name goes through :func:`animerec.embed.registry.resolve_model_dir`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from animerec.embed.registry import resolve_model_dir
from animerec.errors import AnimerecError
from animerec.workspace import Workspace

__all__ = ["load_tokenizer"]


def load_tokenizer(name_or_path: str, workspace: Workspace | None = None) -> Any:
    """A fast Hugging Face tokenizer for an embedder name (``minilm``, ``mpnet``, a fine-tuned
    model in ``workspace``), a local model directory, or a hub name.

    Names resolve through :func:`animerec.embed.registry.resolve_model_dir`, so the tokenizer
    counted here is the one the embedder will use.
    """
    # transformers loads here: ~2 s of imports (measured) that `animerec describe` without
    # --stats, and every other command, must not pay.
    from transformers import AutoTokenizer

    try:
        source = resolve_model_dir(name_or_path, workspace)
    except AnimerecError:
        path = Path(name_or_path).expanduser()
        if not path.is_dir():  # a plain tokenizer folder is fine here, not only a model
            raise
        source = str(path)
    try:
        return AutoTokenizer.from_pretrained(source, use_fast=True)  # nosec B615  # offline cache
    except (OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise AnimerecError(
            f"cannot load a tokenizer for {name_or_path!r} from {source}: {first}"
        ) from None
