"""ONNX export: what the backend can run, its pooling, and exporting again when weights change."""

from __future__ import annotations

import json
import shutil

import pytest

from animerec.embed import get_embedder
from animerec.embed.onnx import OnnxEmbedder
from animerec.embed.onnx_export import pooling_mode
from animerec.errors import AnimerecError

TEXTS = ["The weather is lovely today."]


def test_pooling_is_read_from_the_model(tiny_model_dir, tmp_path):
    assert pooling_mode(tiny_model_dir) == "mean"  # sentence-transformers 6 format
    old = tmp_path / "old"
    shutil.copytree(tiny_model_dir, old)
    (old / "1_Pooling" / "config.json").write_text(
        json.dumps({"word_embedding_dimension": 32, "pooling_mode_cls_token": True})
    )
    assert pooling_mode(old) == "cls"  # the older flags


def test_changed_weights_are_exported_again(tiny_model_dir, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    first = OnnxEmbedder(model, "m@64+onnx", 64, export_dir=tmp_path / "onnx").encode(TEXTS)
    config = json.loads((model / "config.json").read_text())
    import torch
    from transformers import BertModel

    hf = BertModel.from_pretrained(model)
    with torch.no_grad():
        hf.embeddings.word_embeddings.weight.mul_(-1.0)
    hf.save_pretrained(model)
    assert json.loads((model / "config.json").read_text())["hidden_size"] == config["hidden_size"]
    second = OnnxEmbedder(model, "m@64+onnx", 64, export_dir=tmp_path / "onnx").encode(TEXTS)
    torch_second = get_embedder(str(model)).encode(TEXTS)
    assert float(first[0] @ second[0]) < 0.999
    assert float(second[0] @ torch_second[0]) > 0.9999


def test_models_with_extra_modules_are_refused(tiny_model_dir, tmp_path):
    model = tmp_path / "dense"
    shutil.copytree(tiny_model_dir, model)
    modules = json.loads((model / "modules.json").read_text())
    modules.append(
        {"idx": 2, "name": "2", "path": "2_LayerNorm", "type": "sentence_transformers.LayerNorm"}
    )
    (model / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(
        AnimerecError, match="Transformer \\+ Pooling \\+ LayerNorm: use backend torch"
    ):
        OnnxEmbedder(model, "x", 64, export_dir=tmp_path / "o")
