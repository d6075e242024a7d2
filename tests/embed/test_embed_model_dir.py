"""Model-folder facts: token limits, max_seq_length, fingerprints."""

from __future__ import annotations

import json
import shutil

from animerec.embed.model_dir import (
    is_sentence_transformers_dir,
    model_fingerprint,
    model_token_limit,
    read_max_seq_length,
)
from animerec.embed.registry import resolve_model_dir


def test_token_limits_of_the_packaged_configs(tmp_path):
    assert model_token_limit(resolve_model_dir("minilm")) == 512
    (tmp_path / "config.json").write_text(
        json.dumps({"model_type": "mpnet", "max_position_embeddings": 514, "pad_token_id": 1})
    )
    assert model_token_limit(tmp_path) == 512


def test_max_seq_length_and_fingerprint_of_a_folder(tiny_model_dir, tmp_path):
    assert is_sentence_transformers_dir(tiny_model_dir) and not is_sentence_transformers_dir(
        tmp_path
    )
    assert read_max_seq_length(tiny_model_dir) == 64
    copy = tmp_path / "copy"
    shutil.copytree(tiny_model_dir, copy)
    assert model_fingerprint(copy) == model_fingerprint(copy)
    (copy / "onnx").mkdir()
    (copy / "onnx" / "model.onnx").write_bytes(b"derived")  # derived files do not count
    before = model_fingerprint(copy)
    assert model_fingerprint(copy) == before
    (copy / "model.safetensors").write_bytes(b"retrained")
    assert model_fingerprint(copy) != before
