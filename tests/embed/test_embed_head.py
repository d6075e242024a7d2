"""The post-pooling head (Normalize → Dense → Normalize) in numpy matches sentence-transformers."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from sentence_transformers import SentenceTransformer

from animerec.embed.head import read_head
from animerec.errors import AnimerecError
from animerec.finetune.adapter import adapted_model, identity_dense

TEXTS = ["a robot meets a dragon", "The ninja story 3: a pirate meets a hero.", "music"]


@pytest.fixture(scope="module")
def adapter_dir(tiny_model_dir, tmp_path_factory):
    """The tiny model with a random (non-identity) adapter on top, saved."""
    base = SentenceTransformer(str(tiny_model_dir), device="cpu")
    dense = identity_dense(32)
    torch.manual_seed(3)
    with torch.no_grad():
        dense.linear.weight.add_(0.3 * torch.randn(32, 32))
        dense.linear.bias.add_(0.1 * torch.randn(32))
    out = tmp_path_factory.mktemp("adapter") / "tiny-adapter"
    adapted_model(base, dense).save(str(out))
    return out


def _modules(model_dir) -> list[dict]:
    return json.loads((model_dir / "modules.json").read_text())


def test_head_reproduces_the_adapter(tiny_model_dir, adapter_dir):
    pooled = SentenceTransformer(str(tiny_model_dir), device="cpu").encode(
        TEXTS, normalize_embeddings=False
    )
    want = SentenceTransformer(str(adapter_dir), device="cpu").encode(TEXTS)
    head = read_head(adapter_dir, _modules(adapter_dir))
    assert [s is None for s in head.steps] == [True, False, True]  # Normalize, Dense, Normalize
    got = head(pooled)
    assert head.out_dim(32) == 32
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert float(np.abs(got - pooled / np.linalg.norm(pooled, axis=1, keepdims=True)).max()) > 0.05


def test_a_model_without_a_head_is_the_identity(tiny_model_dir):
    head = read_head(tiny_model_dir, _modules(tiny_model_dir))
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert head.steps == () and np.array_equal(head(x), x)


def test_an_activation_is_refused(adapter_dir, tmp_path):
    model = tmp_path / "tanh"
    shutil.copytree(adapter_dir, model)
    config = model / "3_Dense" / "config.json"
    config.write_text(
        json.dumps({**json.loads(config.read_text()), "activation_function": "torch.nn.Tanh"})
    )
    with pytest.raises(AnimerecError, match="3_Dense.*activation 'torch.nn.Tanh'.*backend torch"):
        read_head(model, _modules(model))


def test_an_unknown_module_after_pooling_is_refused(adapter_dir, tmp_path):
    modules = [
        *_modules(adapter_dir),
        {"idx": 5, "name": "5", "path": "5_X", "type": "a.b.LayerNorm"},
    ]
    with pytest.raises(AnimerecError, match="module LayerNorm after Pooling"):
        read_head(adapter_dir, modules)


def test_the_onnx_backend_runs_the_head(tiny_model_dir, adapter_dir, tmp_path):
    from animerec.embed.onnx import OnnxEmbedder

    want = SentenceTransformer(str(adapter_dir), device="cpu").encode(TEXTS)
    onnx = OnnxEmbedder(adapter_dir, "tiny-adapter@64+onnx", 64, export_dir=tmp_path / "o")
    assert onnx.dim == 32
    assert float((onnx.encode(TEXTS) * want).sum(axis=1).min()) > 0.9999


def test_the_books_hub_model_name_still_resolves_online(monkeypatch):
    """paraphrase-distilroberta-base-v1 (the book's small model) is not packaged here; with a
    network its hub name goes to sentence-transformers unchanged, behind the same registry."""
    from animerec.embed.registry import get_embedder

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    name = "sentence-transformers/paraphrase-distilroberta-base-v1"
    emb = get_embedder(name, max_seq_length=384)  # nothing is downloaded until it encodes
    assert emb.name == f"{name}@384" and emb.model_source == name
