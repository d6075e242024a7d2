"""The sentence-transformers backend, on the packaged MiniLM weights (no hub access)."""

from __future__ import annotations

import numpy as np
import pytest

from animerec.embed import SentenceTransformerEmbedder, get_embedder

SENTENCES = ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]


@pytest.fixture(scope="module")
def minilm():
    return get_embedder("minilm")


def test_minilm_reproduces_the_reference_cosines(minilm):
    # Reference values from ../shared/MODELS.md (sentence-transformers' own example).
    v = minilm.encode(SENTENCES)
    sims = v @ v.T
    assert sims[0, 1] == pytest.approx(0.6660, abs=0.002)
    assert sims[0, 2] == pytest.approx(0.1046, abs=0.002)
    assert sims[1, 2] == pytest.approx(0.1411, abs=0.002)


def test_minilm_vectors_are_unit_float32_rows(minilm):
    v = minilm.encode(SENTENCES, batch_size=2)
    assert v.dtype == np.float32 and v.shape == (3, 384) == (3, minilm.dim)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert minilm.encode([]).shape == (0, 384)


def test_name_records_the_max_seq_length(minilm):
    assert minilm.name == "minilm@384"
    assert get_embedder("minilm", max_seq_length=128).name == "minilm@128"


def test_max_seq_length_truncates(minilm):
    short = get_embedder("minilm", max_seq_length=8)
    long_text = SENTENCES[0] + " " + " ".join(["Then the rain came back and flooded the town."] * 3)
    head = minilm.encode([long_text])[0] @ short.encode([long_text])[0]
    assert short.model.max_seq_length == 8
    assert head < 0.99  # the model saw only the first 8 tokens


def test_tiny_model_loads_by_path_and_encodes(tiny_model_dir):
    emb = get_embedder(str(tiny_model_dir))
    assert isinstance(emb, SentenceTransformerEmbedder)
    assert emb.name.startswith("tiny-bert-") and emb.name.endswith("@64")
    v = emb.encode(["a robot meets a dragon", "a love story at school", ""])
    assert v.shape == (3, 32) and emb.dim == 32
    np.testing.assert_allclose(np.linalg.norm(v[:2], axis=1), 1.0, atol=1e-5)
    again = get_embedder(str(tiny_model_dir)).encode(["a robot meets a dragon"])
    np.testing.assert_allclose(again[0], v[0], atol=1e-6)
    assert emb.fingerprint and len(emb.fingerprint) == 16
