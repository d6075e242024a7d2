"""The full and adapter strategies: what each hands the trainer and what each saves."""

from __future__ import annotations

import numpy as np
import pytest

from animerec.errors import AnimerecError
from animerec.finetune import FinetuneSettings
from animerec.finetune.strategies import AdapterStrategy, FullStrategy, strategy_for


def test_one_strategy_per_method():
    assert isinstance(strategy_for("full"), FullStrategy)
    assert isinstance(strategy_for("adapter"), AdapterStrategy)
    assert strategy_for("adapter") is not strategy_for("adapter")  # it holds a run's adapter
    with pytest.raises(AnimerecError, match="unknown method"):
        strategy_for("lora")


def test_full_trains_and_saves_the_encoder_itself():
    model = object()
    full = FullStrategy()
    assert full.trainable(model, {}, FinetuneSettings(method="full"), None, print) is model
    assert full.saved_model(model) is model
    assert not full.cpu_only and full.torch_threads is None


def test_adapter_trains_a_lookup_and_saves_encoder_plus_dense(tiny_model_dir):
    from sentence_transformers import SentenceTransformer

    base = SentenceTransformer(str(tiny_model_dir), device="cpu")
    texts = {7: "a robot story", 9: "a quiet romance"}
    vectors = base.encode(list(texts.values()), normalize_embeddings=True)
    logged: list[str] = []
    adapter = AdapterStrategy()
    trained = adapter.trainable(
        base, texts, FinetuneSettings(max_seq_length=32), lambda: (np.array([7, 9]), vectors),
        logged.append,
    )  # fmt: skip
    assert logged and "base vectors" in logged[0]
    # the lookup gives the cached vectors, the identity Dense keeps them
    np.testing.assert_allclose(trained.encode(list(texts.values())), vectors, atol=1e-6)
    saved = adapter.saved_model(base)
    kinds = [type(m).__name__ for _, m in saved.named_children()]
    assert kinds[0] == "Transformer" and kinds[-3:] == ["Normalize", "Dense", "Normalize"]
    np.testing.assert_allclose(
        saved.encode(list(texts.values()), normalize_embeddings=True), vectors, atol=1e-5
    )
