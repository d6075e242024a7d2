"""Fine-tuning the tiny model for a few steps through the real trainer, save and load paths."""

from __future__ import annotations

import json

import numpy as np
import pytest

from animerec.data.split import protocol_split
from animerec.embed.registry import get_embedder, resolve_model_dir
from animerec.errors import AnimerecError
from animerec.finetune import FinetuneSettings, PairSettings
from animerec.finetune.dataset import anime_texts
from animerec.finetune.run import finetune, read_manifest

PAIRS = {
    "cosine": PairSettings(recipe="book", min_corated=5),
    "cosent": PairSettings(recipe="book", min_corated=5),
    "mnrl": PairSettings(recipe="ease", min_raters=5, min_rating=9, neighbours=2),
}


def tiny_settings(tiny_model_dir, loss: str, **kw) -> FinetuneSettings:
    args = dict(
        base=str(tiny_model_dir),
        loss=loss,
        method="full",
        pairs=PAIRS[loss],
        max_seq_length=32,
        batch_size=8,
        max_steps=4,
        learning_rate=1e-3,
        progress=False,
        device="cpu",
        eval_pairs=200,
    )
    args.update(kw)
    return FinetuneSettings(**args)


def run(taste, ws, tiny_model_dir, name, loss="mnrl", pairs=None, **kw):
    ratings, catalog = taste
    users = protocol_split(ratings).train_users
    return finetune(
        ratings,
        catalog,
        users,
        name,
        workspace=ws,
        settings=tiny_settings(tiny_model_dir, loss, pairs=pairs or PAIRS[loss], **kw),
        log=lambda msg: None,
    )


def encode(ws, name_or_path, texts):
    return get_embedder(str(name_or_path), workspace=ws).encode(texts)


@pytest.mark.parametrize("loss", ["cosine", "cosent", "mnrl"])
def test_each_loss_trains_saves_and_registers_by_name(taste, taste_ws, tiny_model_dir, loss):
    name = f"ft-{loss}"
    result = run(taste, taste_ws, tiny_model_dir, name, loss)
    assert result.path == taste_ws.models_dir / name
    assert resolve_model_dir(name, taste_ws) == str(result.path)

    m = read_manifest(result.path)
    assert m == json.loads(json.dumps(result.manifest))
    assert m["loss"] == loss and m["steps"] == 4 and m["max_seq_length"] == 32
    assert (
        m["loss_class"]
        == {
            "cosine": "CosineSimilarityLoss",
            "cosent": "CoSENTLoss",
            "mnrl": "MultipleNegativesRankingLoss",
        }[loss]
    )
    assert m["users"]["source"] == "train" and m["users"]["count"] == 140
    assert m["pairs"]["rows"] == m["training_rows"] > 0
    assert m["validation"]["pairs"] > 0
    assert isinstance(m["validation"]["before"], float) and isinstance(
        m["validation"]["after"], float
    )
    # Four steps on the tiny model need not reorder the validation pairs (Spearman can stay put
    # for some tokenizer vocabularies); that the weights moved is checked on the vectors below.
    assert all(-1 <= m["validation"][k] <= 1 for k in ("before", "after"))
    assert not list(taste_ws.models_dir.glob(".*"))  # no temporary folders left behind

    emb = get_embedder(name, workspace=taste_ws)
    assert emb.name == f"{name}@32"
    texts = list(anime_texts(taste[1], "clean").values())[:6]
    tuned, base = emb.encode(texts), encode(taste_ws, tiny_model_dir, texts)
    assert tuned.shape == base.shape == (6, 32)
    np.testing.assert_allclose(np.linalg.norm(tuned, axis=1), 1, atol=1e-5)
    assert np.abs(tuned - base).max() > 1e-3


def test_same_seed_same_model_other_seed_other_model(taste, taste_ws, tiny_model_dir):
    texts = list(anime_texts(taste[1], "clean").values())[:8]
    a = run(taste, taste_ws, tiny_model_dir, "seed-a", seed=7)
    b = run(taste, taste_ws, tiny_model_dir, "seed-b", seed=7)
    c = run(taste, taste_ws, tiny_model_dir, "seed-c", seed=8)
    wa = (a.path / "model.safetensors").read_bytes()
    assert wa == (b.path / "model.safetensors").read_bytes()
    assert wa != (c.path / "model.safetensors").read_bytes()
    np.testing.assert_array_equal(
        encode(taste_ws, "seed-a", texts), encode(taste_ws, "seed-b", texts)
    )
    assert a.manifest["validation"] == b.manifest["validation"]


def test_cached_mnrl_and_hard_negatives(taste, taste_ws, tiny_model_dir):
    pairs = PairSettings(
        recipe="ease", min_raters=5, min_rating=9, min_corated=5, hard_negatives="detracted"
    )
    r = run(taste, taste_ws, tiny_model_dir, "ft-cached", "mnrl", pairs, mini_batch_size=4)
    assert r.manifest["loss_class"] == "CachedMultipleNegativesRankingLoss"
    assert r.manifest["pairs"]["with_hard_negative"] == r.manifest["training_rows"]


def test_mined_negatives_use_the_base_encoder_through_the_cache(taste, taste_ws, tiny_model_dir):
    pairs = PairSettings(recipe="ease", min_raters=5, min_rating=9, hard_negatives="mined")
    r = run(taste, taste_ws, tiny_model_dir, "ft-mined", "mnrl", pairs, max_steps=1)
    assert r.manifest["pairs"]["with_hard_negative"] > 0
    assert list(taste_ws.embeddings_dir.iterdir())  # the base vectors were cached


def test_time_budget_stops_training_early(taste, taste_ws, tiny_model_dir):
    r = run(
        taste, taste_ws, tiny_model_dir, "ft-budget", epochs=20, max_steps=50, time_budget_s=1e-3
    )
    assert r.manifest["steps"] == 1 and r.manifest["planned_steps"] == 50
    assert r.manifest["stopped_by_time_budget"] is True


def test_retraining_replaces_the_model_atomically(taste, taste_ws, tiny_model_dir):
    first = run(taste, taste_ws, tiny_model_dir, "ft-again", seed=1)
    second = run(taste, taste_ws, tiny_model_dir, "ft-again", seed=2)
    assert first.path == second.path
    assert read_manifest(second.path)["seed"] == 2
    assert sorted(p.name for p in taste_ws.models_dir.iterdir()) == ["ft-again"]


def test_only_the_main_process_writes(taste, taste_ws, tiny_model_dir, monkeypatch):
    """Under torchrun every rank runs the command; only rank 0 may save the model."""
    from animerec.finetune import run as run_mod

    monkeypatch.setenv("RANK", "1")
    monkeypatch.setattr(run_mod, "world_size", lambda: 1)  # one real process here
    result = run(taste, taste_ws, tiny_model_dir, "ft-rank1", "cosine", max_steps=2)
    assert not result.path.exists()
    assert result.manifest["validation"]["before"] is None  # rank 1 does not evaluate
    monkeypatch.setenv("RANK", "0")
    assert run_mod.is_main_process()


@pytest.mark.parametrize(
    ("name", "message"),
    [("minilm", "built-in embedder"), ("../evil", "folder name"), ("", "folder name")],
)
def test_bad_model_names_are_refused(taste, taste_ws, tiny_model_dir, name, message):
    with pytest.raises(AnimerecError, match=message):
        run(taste, taste_ws, tiny_model_dir, name)


def test_seq_length_beyond_the_model_is_refused(taste, taste_ws, tiny_model_dir):
    with pytest.raises(AnimerecError, match="exceeds"):
        run(taste, taste_ws, tiny_model_dir, "too-long", max_seq_length=4096)


@pytest.mark.parametrize("loss", ["mnrl", "cosent"])
def test_adapter_trains_a_dense_layer_over_the_frozen_encoder(
    taste, taste_ws, tiny_model_dir, loss
):
    r = run(
        taste, taste_ws, tiny_model_dir, f"ft-adapter-{loss}", loss, method="adapter",
        epochs=5, max_steps=None, batch_size=16, learning_rate=1e-2,
    )  # fmt: skip
    m = r.manifest
    assert m["method"] == "adapter" and m["steps"] > 4
    assert m["validation"]["after"] != m["validation"]["before"]
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(r.path), device="cpu")
    kinds = [type(mod).__name__ for _, mod in model.named_children()]
    assert kinds[-3:] == ["Normalize", "Dense", "Normalize"] and kinds[0] == "Transformer"
    texts = list(anime_texts(taste[1], "clean").values())[:8]
    base = get_embedder(str(tiny_model_dir), workspace=taste_ws, max_seq_length=32).encode(texts)
    tuned = encode(taste_ws, f"ft-adapter-{loss}", texts)
    assert np.abs(tuned - base).max() > 1e-3
    # the saved model computes what was trained: Dense over the cached (normalised) base vectors
    dense = list(model.children())[-2]
    import torch

    with torch.no_grad():
        want = dense({"sentence_embedding": torch.tensor(base)})["sentence_embedding"].numpy()
    want /= np.linalg.norm(want, axis=1, keepdims=True)
    np.testing.assert_allclose(tuned, want, atol=1e-5)


def test_adapter_primes_the_embedding_cache_with_what_the_model_computes(
    taste, taste_ws, tiny_model_dir
):
    from animerec.embed.cache import EmbeddingCache

    run(
        taste, taste_ws, tiny_model_dir, "ft-primed", "mnrl", method="adapter",
        epochs=2, max_steps=None, batch_size=16,
    )  # fmt: skip
    emb = get_embedder("ft-primed", workspace=taste_ws)
    cache = EmbeddingCache(taste_ws)
    assert cache.count(emb.name) == len(taste[1])
    texts = list(anime_texts(taste[1], "clean").values())
    from animerec.text import text_hash

    rows, cached = cache.lookup(emb.name, [text_hash(t) for t in texts], emb.fingerprint)
    assert (rows >= 0).all()
    np.testing.assert_allclose(cached[rows], emb.encode(texts), atol=1e-5)


def test_auto_embedder_is_the_default_fine_tuned_model_once_trained(
    taste, taste_ws, tiny_model_dir
):
    from animerec.embed.registry import DEFAULT_FINETUNED, resolve_auto, training_users

    assert resolve_auto("auto", taste_ws) == "minilm"  # nothing fine-tuned yet
    result = run(taste, taste_ws, tiny_model_dir, DEFAULT_FINETUNED, "cosine", max_steps=2)
    assert resolve_auto("auto", taste_ws) == DEFAULT_FINETUNED
    assert resolve_auto("mpnet", taste_ws) == "mpnet"
    assert get_embedder("auto", workspace=taste_ws).name.startswith(DEFAULT_FINETUNED)
    users = training_users(DEFAULT_FINETUNED, taste_ws)
    assert result.manifest["users"]["count"] == len(users) > 0
    assert training_users(str(tiny_model_dir)) is None  # not fine-tuned by animerec


def test_evaluation_refuses_an_embedder_that_saw_its_test_users(taste, taste_ws, tiny_model_dir):
    """A content model whose embedder learned from every user would leak the test users' taste."""
    from animerec.evaluate.runner import evaluate

    ratings, catalog = taste
    all_users = np.unique(ratings.user_id)
    finetune(
        ratings, catalog, all_users, "seen-all", workspace=taste_ws,
        settings=tiny_settings(tiny_model_dir, "cosine", max_steps=2),
        users_label="all", log=lambda msg: None,
    )  # fmt: skip
    with pytest.raises(AnimerecError, match="fine-tuned on ratings of .* test users"):
        evaluate(
            ["content"], ratings, catalog, workspace=taste_ws, tune_models=False,
            params={"content": {"embedder": "seen-all"}}, n_bootstrap=10,
        )  # fmt: skip
    with pytest.raises(AnimerecError, match="hybrid member content/ft: embedder 'seen-all'"):
        evaluate(
            ["hybrid"], ratings, catalog, workspace=taste_ws, tune_models=False,
            params={"hybrid": {"members": ("content", "content/ft"),
                               "member_params": {"content/ft": {"embedder": "seen-all"}}}},
            n_bootstrap=10,
        )  # fmt: skip
    # trained on the protocol's training users only: accepted, and evaluated
    run(taste, taste_ws, tiny_model_dir, "seen-train", "cosine", max_steps=2)
    ev = evaluate(
        ["content"], ratings, catalog, workspace=taste_ws, tune_models=False,
        params={"content": {"embedder": "seen-train"}}, n_bootstrap=10,
    )  # fmt: skip
    assert ev.results[0].n_users > 0


def test_adapter_on_the_onnx_backend_reads_and_writes_its_vectors(
    taste, taste_ws, tiny_model_dir, tmp_path, monkeypatch
):
    """``finetune --backend onnx``: base vectors from the ONNX encoder, the adapter's vectors
    cached under the name the ONNX backend looks up, equal to what it computes."""
    from animerec.embed.cache import EmbeddingCache
    from animerec.text import text_hash

    monkeypatch.setenv("ANIMEREC_CACHE", str(tmp_path / "cache"))
    run(
        taste, taste_ws, tiny_model_dir, "ft-onnx", "mnrl", method="adapter",
        epochs=2, max_steps=None, batch_size=16, backend="onnx",
    )  # fmt: skip
    cache = EmbeddingCache(taste_ws)
    base = get_embedder(str(tiny_model_dir), max_seq_length=32, backend="onnx")
    assert cache.count(base.name) == len(taste[1])  # the base encoded once, by ONNX
    emb = get_embedder("ft-onnx", workspace=taste_ws, backend="onnx")
    assert emb.name == "ft-onnx@32+onnx" and cache.count(emb.name) == len(taste[1])
    texts = list(anime_texts(taste[1], "clean").values())
    rows, cached = cache.lookup(emb.name, [text_hash(t) for t in texts], emb.fingerprint)
    assert (rows >= 0).all()
    np.testing.assert_allclose(cached[rows], emb.encode(texts), atol=1e-4)
    torch_vectors = get_embedder("ft-onnx", workspace=taste_ws).encode(texts)
    assert (cached[rows] * torch_vectors).sum(axis=1).min() > 0.999
