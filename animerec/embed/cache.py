"""The embedding cache: each description is encoded once per embedder, then read from disk.

Encoding the catalog costs minutes (MiniLM) to most of an hour (mpnet) on a CPU, and every
recommender, evaluation and fine-tuning run needs the same vectors. Entries are keyed by
(``Embedder.name``, :func:`animerec.text.text_hash` of the text) and stored per embedder under
``WS/embeddings/<name>/`` as plain files: ``keys.npy`` (hash strings), ``vectors.npy`` (float32)
and ``manifest.json``. New entries are added by writing a new consolidated folder and renaming it
into place, so a reader never sees keys and vectors that disagree, and a crash loses at most the
unsaved part of one run (long runs save every ``flush_seconds``).
"""

from __future__ import annotations

import hashlib
import re
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from animerec.data.catalog import Catalog
from animerec.embed.base import Embedder
from animerec.errors import AnimerecError
from animerec.text import describe, text_hash
from animerec.workspace import Workspace, atomic_path, now_iso, read_json, write_json

__all__ = ["EmbeddingCache", "cached_encode", "catalog_embeddings", "text_hash"]

KEYS_FILE = "keys.npy"
VECTORS_FILE = "vectors.npy"
MANIFEST_FILE = "manifest.json"


def cache_dirname(embedder_name: str) -> str:
    """A folder name for an embedder name: safe characters, plus a hash when any were replaced."""
    safe = re.sub(r"[^\w.@+-]", "_", embedder_name)
    if safe != embedder_name or safe.startswith("."):
        safe = f"{safe.lstrip('.')}-{hashlib.sha1(embedder_name.encode(), usedforsecurity=False).hexdigest()[:8]}"
    return safe


@dataclass
class _Entries:
    """What one embedder has cached: keys, their vectors, and a key → row index."""

    keys: np.ndarray
    vectors: np.ndarray
    fingerprint: str | None
    token: str | None = None
    index: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        self.index = {str(k): i for i, k in enumerate(self.keys.tolist())}


class EmbeddingCache:
    """Vectors by (embedder name, text hash), persisted in a workspace."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.root = workspace.embeddings_dir
        self._loaded: dict[str, _Entries] = {}

    def path(self, embedder_name: str) -> Path:
        return self.root / cache_dirname(embedder_name)

    # --- reading --------------------------------------------------------------------------------
    def _read(self, embedder_name: str) -> _Entries | None:
        folder = self.path(embedder_name)
        try:
            manifest = read_json(folder / MANIFEST_FILE)
            keys = np.load(folder / KEYS_FILE, allow_pickle=False)
            vectors = np.load(folder / VECTORS_FILE, allow_pickle=False)
        except FileNotFoundError:
            return None
        except (ValueError, OSError) as exc:
            raise AnimerecError(f"embedding cache {folder} is unreadable: {exc}") from None
        if manifest.get("embedder") != embedder_name or len(keys) != len(vectors):
            raise AnimerecError(
                f"embedding cache {folder} does not match embedder {embedder_name!r}: delete it"
            )
        return _Entries(
            keys,
            vectors.astype(np.float32, copy=False),
            manifest.get("fingerprint"),
            manifest.get("token"),
        )

    def _entries(self, embedder_name: str, fingerprint: str | None) -> _Entries | None:
        """Cached entries, reloaded when another process has written since; None if stale."""
        mine = self._loaded.get(embedder_name)
        folder = self.path(embedder_name)
        token = None
        if (folder / MANIFEST_FILE).exists():
            token = read_json(folder / MANIFEST_FILE).get("token")
        if mine is None or mine.token != token:
            mine = self._read(embedder_name)
            if mine is not None:
                self._loaded[embedder_name] = mine
        if mine is None:
            return None
        if fingerprint is not None and mine.fingerprint not in (None, fingerprint):
            return None  # the model's weights changed under the same name: old vectors are stale
        return mine

    def count(self, embedder_name: str) -> int:
        entries = self._entries(embedder_name, None)
        return 0 if entries is None else len(entries.keys)

    def lookup(
        self, embedder_name: str, keys: Sequence[str], fingerprint: str | None = None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """(row in the cache or -1 for each key, the cached vectors); vectors None when empty."""
        entries = self._entries(embedder_name, fingerprint)
        if entries is None:
            return np.full(len(keys), -1, np.int64), None
        rows = np.fromiter((entries.index.get(k, -1) for k in keys), np.int64, len(keys))
        return rows, entries.vectors

    # --- writing --------------------------------------------------------------------------------
    def add(
        self,
        embedder_name: str,
        keys: Sequence[str],
        vectors: np.ndarray,
        fingerprint: str | None = None,
    ) -> None:
        """Merge new (key, vector) pairs into the embedder's files, replacing them atomically."""
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or len(vectors) != len(keys):
            raise ValueError(f"{len(keys)} keys but vectors of shape {vectors.shape}")
        old = self._entries(embedder_name, fingerprint)
        if old is not None and len(old.keys) and old.vectors.shape[1] != vectors.shape[1]:
            raise AnimerecError(
                f"embedder {embedder_name!r} gave {vectors.shape[1]}-d vectors but its cache at "
                f"{self.path(embedder_name)} holds {old.vectors.shape[1]}-d ones: delete it"
            )
        new_keys = np.asarray(list(keys), dtype=str)
        if old is not None:
            fresh = np.fromiter(
                (k not in old.index for k in new_keys.tolist()), bool, len(new_keys)
            )
            new_keys, vectors = new_keys[fresh], vectors[fresh]
            if len(new_keys) == 0:
                return
            all_keys = np.concatenate([old.keys.astype(str), new_keys])
            all_vectors = np.concatenate([old.vectors, vectors])
        else:
            all_keys, all_vectors = new_keys, vectors
        all_keys, first = np.unique(all_keys, return_index=True)  # drop repeats within one add
        all_vectors = all_vectors[first]
        token = uuid.uuid4().hex
        with atomic_path(self.path(embedder_name)) as work:
            work.mkdir()
            np.save(work / KEYS_FILE, all_keys, allow_pickle=False)
            np.save(work / VECTORS_FILE, all_vectors, allow_pickle=False)
            write_json(
                work / MANIFEST_FILE,
                {
                    "embedder": embedder_name,
                    "dim": int(all_vectors.shape[1]),
                    "count": len(all_keys),
                    "fingerprint": fingerprint,
                    "updated": now_iso(),
                    "token": token,
                },
            )
        self._loaded[embedder_name] = _Entries(all_keys, all_vectors, fingerprint, token)


def cached_encode(
    embedder: Embedder,
    texts: Sequence[str],
    cache: EmbeddingCache,
    batch_size: int = 32,
    *,
    progress: bool | None = None,
    chunk_size: int = 256,
    flush_seconds: float = 60.0,
) -> np.ndarray:
    """``embedder.encode(texts)``, encoding only the texts the cache does not hold yet.

    Repeated texts are encoded once. When every text is cached the model is never loaded.
    ``progress`` None shows a bar when more than ``chunk_size`` texts need encoding.
    """
    texts = list(texts)
    if not texts:
        return embedder.encode([], batch_size)
    fingerprint = getattr(embedder, "fingerprint", None)
    keys = [text_hash(t) for t in texts]
    rows, _ = cache.lookup(embedder.name, keys, fingerprint)
    todo: dict[str, str] = {}
    for key, text, row in zip(keys, texts, rows.tolist(), strict=True):
        if row < 0 and key not in todo:
            todo[key] = text
    if todo:
        _encode_missing(embedder, todo, cache, batch_size, progress, chunk_size, flush_seconds)
        rows, _ = cache.lookup(embedder.name, keys, fingerprint)
    _, vectors = cache.lookup(embedder.name, [], fingerprint)
    if vectors is None or (rows < 0).any():
        raise AnimerecError(
            f"embedding cache {cache.path(embedder.name)} lost entries while writing"
        )
    return vectors[rows]


def _encode_missing(
    embedder: Embedder,
    todo: dict[str, str],
    cache: EmbeddingCache,
    batch_size: int,
    progress: bool | None,
    chunk_size: int,
    flush_seconds: float,
) -> None:
    fingerprint = getattr(embedder, "fingerprint", None)
    items = list(todo.items())
    show = progress if progress is not None else len(items) > chunk_size
    pending_keys: list[str] = []
    pending: list[np.ndarray] = []
    last_flush = time.monotonic()
    with tqdm(
        total=len(items), disable=not show, unit="text", desc=f"encoding ({embedder.name})"
    ) as bar:
        for start in range(0, len(items), chunk_size):
            chunk = items[start : start + chunk_size]
            pending.append(embedder.encode([t for _, t in chunk], batch_size))
            pending_keys.extend(k for k, _ in chunk)
            bar.update(len(chunk))
            done = start + len(chunk) >= len(items)
            if done or time.monotonic() - last_flush >= flush_seconds:
                cache.add(embedder.name, pending_keys, np.concatenate(pending), fingerprint)
                pending_keys, pending = [], []
                last_flush = time.monotonic()


def catalog_embeddings(
    embedder: Embedder,
    catalog: Catalog,
    workspace: Workspace,
    variant: str = "clean",
    batch_size: int = 32,
    *,
    progress: bool | None = True,
) -> np.ndarray:
    """``float32 [len(catalog), dim]``: the embedding of each anime's description, in catalog
    order, through the workspace's cache."""
    texts = describe(catalog, variant)
    if len(texts) != len(catalog):
        raise AnimerecError(f"describe gave {len(texts)} texts for {len(catalog)} catalog rows")
    return cached_encode(embedder, texts, EmbeddingCache(workspace), batch_size, progress=progress)
