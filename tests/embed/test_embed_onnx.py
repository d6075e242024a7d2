"""The ONNX backend: exported once, matches torch in fp32, stays close in int8."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from animerec.embed import get_embedder, onnx_export
from animerec.embed import onnx as onnx_module
from animerec.embed.onnx import OnnxEmbedder, pool
from animerec.errors import AnimerecError

TEXTS = [
    "The weather is lovely today.",
    "It's so sunny outside!",
    "He drove to the stadium.",
    "Cowboy Bebop is a TV series. Synopsis: In the year 2071, humanity has colonized several of "
    "the planets and moons of the solar system, leaving the now uninhabitable surface of planet "
    "Earth behind. Its genres are Action, Adventure, Comedy, Drama, Sci-Fi, Space.",
    "a robot meets a dragon",
]


def test_pooling_by_hand():
    tokens = np.array([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]], np.float32)
    mask = np.array([[1, 1, 0]])
    np.testing.assert_allclose(pool(tokens, mask, "mean"), [[2.0, 3.0]])
    np.testing.assert_allclose(pool(tokens, mask, "cls"), [[1.0, 2.0]])
    np.testing.assert_allclose(pool(tokens, mask, "max"), [[3.0, 4.0]])
    np.testing.assert_allclose(
        pool(tokens, mask, "mean_sqrt_len_tokens"), [[4.0, 6.0]] / np.sqrt(2)
    )


@pytest.mark.parametrize("fused", [True, False], ids=["ort-fused", "plain-graph"])
def test_tiny_model_fp32_matches_torch_and_is_exported_once(
    tiny_model_dir, tmp_path, monkeypatch, fused
):
    if not fused:  # the graph models other than BERT get (mpnet, ...)
        monkeypatch.setattr(onnx_export, "_fuse_transformer_ops", lambda *a: None)
    torch_vectors = get_embedder(str(tiny_model_dir)).encode(TEXTS)
    onnx = OnnxEmbedder(tiny_model_dir, "tiny@64+onnx", 64, export_dir=tmp_path / "onnx")
    mixed = onnx.encode(TEXTS, batch_size=3)  # padded batches of different lengths
    single = np.concatenate([onnx.encode([t]) for t in TEXTS])  # no padding at all
    for vectors in (mixed, single):
        assert (vectors * torch_vectors).sum(axis=1).min() > 0.9999
    assert sorted(p.name for p in (tmp_path / "onnx").iterdir()) == ["manifest.json", "model.onnx"]
    assert json.loads((tmp_path / "onnx" / "manifest.json").read_text())["fused"] is fused

    def no_export(*args: object) -> None:
        raise AssertionError("exported again")

    monkeypatch.setattr(onnx_export, "_export_fp32", no_export)
    again = OnnxEmbedder(tiny_model_dir, "tiny@64+onnx", 64, export_dir=tmp_path / "onnx")
    np.testing.assert_allclose(again.encode(TEXTS[:2]), mixed[:2], atol=1e-6)


def test_micro_batches_cover_every_text_once_longest_first_within_the_token_budget(
    tiny_model_dir, tmp_path, monkeypatch
):
    monkeypatch.setattr(onnx_module, "TOKEN_BUDGET", 100)
    onnx = OnnxEmbedder(tiny_model_dir, "tiny@64+onnx", 64, export_dir=tmp_path / "onnx")
    lengths = np.array([10, 60, 30, 30, 5, 50, 20, 1])
    groups = onnx.micro_batches(lengths, batch_size=3)
    flat = np.concatenate(groups)
    assert sorted(flat) == list(range(len(lengths)))
    assert list(lengths[flat]) == sorted(lengths, reverse=True)
    for group in groups:  # padded to its longest text: at most the budget, or one text
        assert len(group) <= 3
        assert len(group) == 1 or len(group) * lengths[group].max() <= 100
    assert [len(g) for g in groups] == [1, 2, 3, 2]  # 60 | 50 30 | 30 20 10 | 5 1


def test_vectors_do_not_depend_on_workers_or_batching(tiny_model_dir, tmp_path, monkeypatch):
    def encode(threads: int, batch_size: int) -> np.ndarray:
        onnx = OnnxEmbedder(tiny_model_dir, "t", 64, export_dir=tmp_path / "onnx", threads=threads)
        return onnx.encode(TEXTS * 3, batch_size=batch_size)

    reference = encode(1, 64)
    monkeypatch.setattr(onnx_module, "TOKEN_BUDGET", 16)  # many small groups, run in parallel
    np.testing.assert_allclose(encode(3, 2), reference, atol=1e-6)


def test_tiny_model_int8_is_close(tiny_model_dir, tmp_path):
    torch_vectors = get_embedder(str(tiny_model_dir)).encode(TEXTS)
    int8 = OnnxEmbedder(tiny_model_dir, "t+int8", 64, quantize=True, export_dir=tmp_path / "o")
    assert (int8.encode(TEXTS) * torch_vectors).sum(axis=1).min() > 0.97
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == [
        "manifest.json",
        "model.onnx",
        "model_int8.onnx",
    ]


def _fake_mpnet(tiny_model_dir, tmp_path):
    model = tmp_path / "mpnet-like"
    shutil.copytree(tiny_model_dir, model)
    config = json.loads((model / "config.json").read_text())
    (model / "config.json").write_text(json.dumps({**config, "model_type": "mpnet"}))
    return model


def test_int8_is_refused_for_mpnet_unless_forced(tiny_model_dir, tmp_path):
    model = _fake_mpnet(tiny_model_dir, tmp_path)
    with pytest.raises(AnimerecError, match="int8 breaks mpnet models.*0.90.*onnx or torch"):
        OnnxEmbedder(model, "x", 64, quantize=True, export_dir=tmp_path / "o")
    assert OnnxEmbedder(model, "x", 64, quantize=True, force_int8=True, export_dir=tmp_path / "o")
    assert OnnxEmbedder(model, "x", 64, quantize=False, export_dir=tmp_path / "o")


@pytest.fixture(scope="module")
def minilm_vectors(tmp_path_factory):
    """MiniLM at seq 128 through torch, ONNX fp32 and ONNX int8 (one export per test run)."""
    cache = tmp_path_factory.mktemp("onnx-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ANIMEREC_CACHE", str(cache))
        return {
            backend: get_embedder("minilm", max_seq_length=128, backend=backend).encode(TEXTS)
            for backend in ("torch", "onnx", "onnx-int8")
        }


def test_minilm_onnx_fp32_matches_torch(minilm_vectors):
    cos = (minilm_vectors["onnx"] * minilm_vectors["torch"]).sum(axis=1)
    assert cos.min() > 0.999


def test_minilm_onnx_int8_stays_close(minilm_vectors):
    cos = (minilm_vectors["onnx-int8"] * minilm_vectors["torch"]).sum(axis=1)
    assert cos.min() > 0.97
    assert cos.mean() < 0.99999  # it really is a different (quantised) model
    sims = minilm_vectors["onnx-int8"][:3] @ minilm_vectors["onnx-int8"][:3].T
    assert sims[0, 1] > sims[0, 2] and sims[0, 1] > sims[1, 2]
