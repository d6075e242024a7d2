"""What ``scripts/main.sh`` encodes with by default (ONNX int8) against torch fp32, on real
descriptions: packaged MiniLM at 384 tokens and a MiniLM adapter over it (the fine-tuned model's
path), mean cosine ≥ 0.99 each (issue 16)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sentence_transformers import SentenceTransformer

from animerec.embed import get_embedder
from animerec.embed.registry import resolve_model_dir
from animerec.finetune.adapter import adapted_model, identity_dense
from animerec.text import describe

SAMPLE = 48
SEQ = 384  # what main.sh's finetune and evaluate run MiniLM at


@pytest.fixture(scope="module")
def descriptions(sample_catalog) -> list[str]:
    """A seeded sample of the shared catalog's clean descriptions, the longest included."""
    texts = describe(sample_catalog, "clean")
    rng = np.random.default_rng(16)
    picked = rng.choice(len(texts), SAMPLE - 1, replace=False).tolist()
    longest = int(np.argmax([len(t) for t in texts]))
    return [texts[i] for i in [*picked, longest]]


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory):
    cache = tmp_path_factory.mktemp("onnx-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ANIMEREC_CACHE", str(cache))
        yield cache


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1)


def test_minilm_int8_matches_fp32_on_descriptions(descriptions, onnx_cache):
    fp32 = get_embedder("minilm", max_seq_length=SEQ).encode(descriptions)
    int8 = get_embedder("minilm", max_seq_length=SEQ, backend="onnx-int8")
    assert int8.name == f"minilm@{SEQ}+onnx-int8"
    cos = _cosines(int8.encode(descriptions), fp32)
    assert cos.mean() >= 0.99, f"mean cosine {cos.mean():.4f} (min {cos.min():.4f})"


def test_adapter_int8_matches_fp32_on_descriptions(descriptions, onnx_cache, tmp_path):
    """An adapter (MiniLM → Normalize → Dense → Normalize) run by the int8 encoder plus the
    numpy head against the same saved model in torch fp32."""
    base = SentenceTransformer(resolve_model_dir("minilm"), device="cpu")
    base.max_seq_length = SEQ
    dense = identity_dense(384)
    torch.manual_seed(16)
    with torch.no_grad():  # a trained adapter moves vectors: ~0.1 off the identity per row
        dense.linear.weight.add_(torch.randn(384, 384) * 0.1 / np.sqrt(384))
        dense.linear.bias.add_(torch.randn(384) * 0.01)
    model_dir = tmp_path / "adapter"
    adapted_model(base, dense).save(str(model_dir))
    fp32 = get_embedder(str(model_dir), max_seq_length=SEQ).encode(descriptions)
    int8 = get_embedder(str(model_dir), max_seq_length=SEQ, backend="onnx-int8")
    v = int8.encode(descriptions)
    assert v.shape == fp32.shape == (SAMPLE, 384)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-4)
    cos = _cosines(v, fp32)
    assert cos.mean() >= 0.99, f"mean cosine {cos.mean():.4f} (min {cos.min():.4f})"
    # the head really ran: the adapter's vectors are not its base's
    plain = get_embedder("minilm", max_seq_length=SEQ).encode(descriptions)
    assert _cosines(fp32, plain).mean() < 0.999
