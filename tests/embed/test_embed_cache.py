"""The embedding cache: each text is encoded once per embedder, and survives reopening."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pytest

from animerec.data.catalog import CATALOG_COLUMNS, Catalog
from animerec.embed import cache as cache_module
from animerec.embed.base import Embedder
from animerec.embed.cache import EmbeddingCache, cache_dirname, cached_encode, catalog_embeddings
from animerec.errors import AnimerecError
from animerec.text import describe, text_hash
from animerec.workspace import Workspace


class CountingEmbedder(Embedder):
    """Deterministic 4-d vectors from each text's letters; records every text it encodes."""

    def __init__(self, name: str = "counting@1", fingerprint: str | None = None) -> None:
        self.name = name
        self.fingerprint = fingerprint
        self.seen: list[str] = []

    @property
    def dim(self) -> int:
        return 4

    def _encode(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        self.seen.extend(texts)
        return np.array(
            [[len(t) + 1, t.count("a"), t.count("e"), t.count(" ")] for t in texts], np.float32
        )


def expected(texts: list[str]) -> np.ndarray:
    return CountingEmbedder().encode(texts)


def test_each_text_is_encoded_once_and_order_is_kept(tmp_path):
    ws = Workspace(tmp_path)
    emb = CountingEmbedder()
    texts = ["a cat", "the bee", "a cat", "eagle and ape"]
    out = cached_encode(emb, texts, EmbeddingCache(ws))
    np.testing.assert_allclose(out, expected(texts))
    assert sorted(emb.seen) == ["a cat", "eagle and ape", "the bee"]  # the repeat encoded once

    more = ["the bee", "a new one", "a cat"]
    out2 = cached_encode(emb, more, EmbeddingCache(ws))  # a fresh cache object: reads the disk
    np.testing.assert_allclose(out2, expected(more))
    assert emb.seen[3:] == ["a new one"]
    assert EmbeddingCache(ws).count(emb.name) == 4


def test_fully_cached_texts_never_touch_the_model(tmp_path):
    ws = Workspace(tmp_path)
    cached_encode(CountingEmbedder(), ["x y", "z"], EmbeddingCache(ws))

    class Unloadable(CountingEmbedder):
        @property
        def dim(self) -> int:
            raise AssertionError("the model was loaded")

    out = cached_encode(Unloadable(), ["z", "x y"], EmbeddingCache(ws))
    np.testing.assert_allclose(out, expected(["z", "x y"]))


def test_files_are_plain_numpy_under_the_embedder_name(tmp_path):
    ws = Workspace(tmp_path)
    cached_encode(CountingEmbedder("openai:text-embedding-3-small"), ["ab"], EmbeddingCache(ws))
    folder = ws.embeddings_dir / cache_dirname("openai:text-embedding-3-small")
    assert folder.name.startswith("openai_text-embedding-3-small-")
    keys = np.load(folder / "keys.npy", allow_pickle=False)
    vectors = np.load(folder / "vectors.npy", allow_pickle=False)
    assert keys.tolist() == [text_hash("ab")] and vectors.dtype == np.float32
    assert sorted(p.name for p in ws.embeddings_dir.iterdir()) == [folder.name]  # no temp left
    assert cache_dirname("minilm@256+onnx-int8") == "minilm@256+onnx-int8"
    assert cache_dirname("a/b") != cache_dirname("a_b")


def test_a_crash_while_writing_keeps_the_old_files(tmp_path, monkeypatch):
    ws = Workspace(tmp_path)
    emb = CountingEmbedder()
    cached_encode(emb, ["first"], EmbeddingCache(ws))
    real_save = np.save

    def failing_save(path, arr, **kw):
        if str(path).endswith("vectors.npy"):
            raise OSError("disk full")
        return real_save(path, arr, **kw)

    monkeypatch.setattr(cache_module.np, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        cached_encode(emb, ["second"], EmbeddingCache(ws))
    monkeypatch.undo()
    reopened = EmbeddingCache(ws)
    assert reopened.count(emb.name) == 1
    rows, vectors = reopened.lookup(emb.name, [text_hash("first"), text_hash("second")])
    assert rows[1] == -1 and vectors is not None
    np.testing.assert_allclose(vectors[rows[0]], expected(["first"])[0])
    assert sorted(p.name for p in ws.embeddings_dir.iterdir()) == ["counting@1"]


def test_long_runs_are_saved_in_chunks(tmp_path):
    ws = Workspace(tmp_path)
    emb = CountingEmbedder()
    texts = [f"text number {i}" for i in range(10)]
    cache = EmbeddingCache(ws)
    out = cached_encode(emb, texts, cache, chunk_size=3, flush_seconds=0.0, progress=False)
    np.testing.assert_allclose(out, expected(texts))
    assert cache.count(emb.name) == 10 and len(emb.seen) == 10


def test_changed_weights_invalidate_the_vectors(tmp_path):
    ws = Workspace(tmp_path)
    cached_encode(CountingEmbedder(fingerprint="v1"), ["a", "b"], EmbeddingCache(ws))
    same = CountingEmbedder(fingerprint="v1")
    cached_encode(same, ["a", "b"], EmbeddingCache(ws))
    assert same.seen == []
    retrained = CountingEmbedder(fingerprint="v2")
    cached_encode(retrained, ["a", "b"], EmbeddingCache(ws))
    assert retrained.seen == ["a", "b"]
    assert EmbeddingCache(ws).count("counting@1") == 2


def test_a_different_dimension_under_the_same_name_is_refused(tmp_path):
    ws = Workspace(tmp_path)
    cache = EmbeddingCache(ws)
    cache.add("m@1", ["k1"], np.ones((1, 4), np.float32))
    with pytest.raises(AnimerecError, match="8-d vectors"):
        cache.add("m@1", ["k2"], np.ones((1, 8), np.float32))


def _tiny_catalog() -> Catalog:
    robot = {
        "name": "Robot Dragon",
        "type": "TV",
        "genres": "Action, Mecha",
        "synopsis": "A robot meets a dragon.",
        "studios": "Sunrise",
        "source": "Original",
    }
    rows = [
        {"anime_id": 1, **robot},
        {
            "anime_id": 5,
            "name": "School Love",
            "type": "Movie",
            "genres": "Romance",
            "synopsis": "A love story at school.",
            "premiered": "Spring 2001",
        },
        {"anime_id": 9, **robot},  # the same row again: one description, one vector
    ]
    return Catalog(pd.DataFrame(rows).reindex(columns=CATALOG_COLUMNS))


def test_catalog_embeddings_follow_catalog_order(tmp_path, tiny_model_dir):
    from animerec.embed import get_embedder

    ws = Workspace(tmp_path)
    catalog = _tiny_catalog()
    emb = get_embedder(str(tiny_model_dir))
    vectors = catalog_embeddings(emb, catalog, ws, progress=False)
    assert vectors.shape == (3, 32) and vectors.dtype == np.float32
    np.testing.assert_allclose(vectors, emb.encode(describe(catalog, "clean")), atol=1e-6)
    np.testing.assert_allclose(vectors[0], vectors[2])  # same description, same vector
    assert EmbeddingCache(ws).count(emb.name) == 2
    book = catalog_embeddings(emb, catalog, ws, variant="book", progress=False)
    assert not np.allclose(book, vectors) and EmbeddingCache(ws).count(emb.name) == 4
