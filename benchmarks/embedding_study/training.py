"""Steps that make models and vectors: ``train``, ``encode`` and ``extend``."""

from __future__ import annotations

import time

import numpy as np

from animerec.data.split import SEED
from animerec.embed.cache import EmbeddingCache, cached_encode, catalog_embeddings
from animerec.embed.registry import get_embedder
from animerec.embed.tokenizer import load_tokenizer
from animerec.finetune.run import finetune, read_manifest
from animerec.text import describe, text_hash, token_lengths

from .configs import CONFIGS
from .study import Study, parse_label


# --- steps -----------------------------------------------------------------------------------------
def train(study: Study, names: list[str]) -> None:
    for name in names:
        c = CONFIGS[name]
        path = study.ws.models_dir / name
        if (path / "manifest.json").exists():
            m = read_manifest(path)
            print(f"{name}: already trained ({m['steps']} steps, {m['wall_s']} s) — skipped")
            continue
        ratings, users = study.training_data(c["users"])
        finetune(
            ratings,
            study.catalog,
            users,
            name,
            workspace=study.ws,
            settings=c["settings"],
            users_label=c["users"],
        )


def encode(study: Study, labels: list[str], device: str | None = None) -> None:
    """Fill the embedding cache with every catalog description for each embedder."""
    for label in labels:
        name, seq = parse_label(label)
        embedder = get_embedder(name, workspace=study.ws, max_seq_length=seq, device=device)
        t0 = time.perf_counter()
        v = catalog_embeddings(embedder, study.catalog, study.ws, progress=True)
        print(f"encode {label} ({embedder.name}): {v.shape} in {time.perf_counter() - t0:.0f} s")


def extend(study: Study, labels: list[str], source: str, check: int = 24) -> None:
    """Encode the catalog at a longer ``max_seq_length`` by encoding only the texts it changes.

    A description of at most M tokens is encoded from exactly the same tokens at any limit ≥ M,
    so its vector at 384 or 512 is its vector at 256; only the ~11% of descriptions longer than
    ``source``'s limit are encoded again. ``check`` of the copied texts are re-encoded at the new
    length to show the vectors agree (cosine printed).
    """
    src_name, src_seq = parse_label(source)
    cache = EmbeddingCache(study.ws)
    texts = describe(study.catalog, "clean")
    lengths = token_lengths(texts, load_tokenizer(src_name, study.ws))
    short = lengths <= src_seq
    src = get_embedder(src_name, workspace=study.ws, max_seq_length=src_seq)
    src_vectors = cached_encode(src, texts, cache)  # all cached already: no encoding
    for label in labels:
        name, seq = parse_label(label)
        if name != src_name or seq <= src_seq:
            raise SystemExit(f"extend: {label} must be {src_name}@N with N > {src_seq}")
        embedder = get_embedder(name, workspace=study.ws, max_seq_length=seq)
        idx = np.flatnonzero(short)
        keys = [text_hash(texts[i]) for i in idx]
        cache.add(embedder.name, keys, src_vectors[idx], getattr(embedder, "fingerprint", None))
        t0 = time.perf_counter()
        long_texts = [t for t, ok in zip(texts, short, strict=True) if not ok]
        cached_encode(embedder, long_texts, cache, progress=True)
        sample = np.random.default_rng(SEED).choice(idx, min(check, len(idx)), replace=False)
        again = embedder.encode([texts[i] for i in sample])
        cos = np.sum(again * src_vectors[sample], axis=1)
        print(
            f"extend {label}: {len(idx):,} texts ≤ {src_seq} tokens copied from {source}, "
            f"{len(long_texts):,} encoded in {time.perf_counter() - t0:.0f} s; re-encoded check "
            f"of {len(sample)} copied: min cosine {cos.min():.6f}",
            flush=True,
        )
