"""Content-based recommendations: the book's method over description embeddings.

For every anime the user promoted (rated ``min_rating`` or more), take its ``neighbours`` nearest
anime in embedding space; recommend the anime that appear most often among those neighbour
lists, ties going to the higher mean similarity (``aggregate="count"``, the book's rule), or rank
by the summed similarity (``aggregate="sum"``). Anime that appear in no list follow, ordered by
their similarity to the mean of the promoted anime, so every catalog item gets a score and
cold-start anime (rated by nobody) can be recommended.

Fitting reads the catalog's vectors from the workspace's embedding cache (encoding only what is
missing) and precomputes each anime's top neighbours with blocked matrix products, so scoring is
two bincounts over the promoted anime's neighbour lists and one dense product (in a 64-d
projection of the vectors) per batch — no Python loop over the catalog.

A rating ≤ 5 (a dislike) adds ``dislike_weight`` (negative) per appearance in the disliked
anime's neighbour list (times the similarity with ``aggregate="sum"``), so what resembles a
disliked title sinks; a disliked title is never taken as a liked one, even when it is the
history's best rating.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp

from animerec.data.catalog import Catalog
from animerec.data.ratings import History, Ratings
from animerec.embed.base import Embedder, normalize
from animerec.embed.cache import catalog_embeddings
from animerec.embed.registry import get_embedder
from animerec.errors import AnimerecError
from animerec.recommend.base import Recommender
from animerec.recommend.context import Context
from animerec.recommend.explain import because_you_liked
from animerec.recommend.itemspace import DISLIKE_MAX
from animerec.workspace import Workspace

TABLE_SIZE = 100
"""Neighbours kept per anime in the fitted table (``neighbours`` may use fewer)."""
BLOCK = 1024
"""Catalog rows per block of the all-pairs similarity product (bounds memory to BLOCK × catalog)."""
SCORE_BLOCK = 256
"""Histories scored at once (each block holds a few dense ``[block, catalog]`` arrays)."""
TIE_SCALE = 0.99
"""Similarity tie-breakers live in [0, TIE_SCALE], below one extra neighbour-list appearance."""

FALLBACK_DIMS = 64
"""Singular directions kept for the fallback order (one dense product per user over the catalog:
64 of MiniLM's 384 dimensions give the same DEV metrics at a sixth of the cost)."""

_table_memo: dict[tuple[str, int, bytes], tuple[np.ndarray, np.ndarray]] = {}


def neighbour_table(
    vectors: np.ndarray, n: int, *, allowed: np.ndarray | None = None, block: int = BLOCK
) -> tuple[np.ndarray, np.ndarray]:
    """Each row's ``n`` most similar other rows: (``int32 [m, n]`` indices, ``float32 [m, n]``
    cosine similarities), best first, ties by index.

    ``allowed`` (bool ``[m]``) restricts which rows may be neighbours. Computed block by block,
    so memory stays at ``block × m`` instead of ``m × m``.
    """
    v = np.ascontiguousarray(vectors, dtype=np.float32)
    m = len(v)
    ok = np.ones(m, bool) if allowed is None else np.asarray(allowed, bool)
    n = int(min(n, max(int(ok.sum()) - 1, 0)))
    idx = np.zeros((m, n), np.int32)
    sim = np.zeros((m, n), np.float32)
    if n == 0:
        return idx, sim
    cols = np.flatnonzero(ok)
    vt = v[cols].T.copy()
    for s in range(0, m, block):
        e = min(s + block, m)
        sims = v[s:e] @ vt  # [b, n_allowed]
        own = np.searchsorted(cols, np.arange(s, e))
        own_ok = (own < len(cols)) & (cols[np.minimum(own, len(cols) - 1)] == np.arange(s, e))
        sims[np.flatnonzero(own_ok), own[own_ok]] = -np.inf  # an anime is not its own neighbour
        part = np.argpartition(-sims, n - 1, axis=1)[:, :n]
        ps = np.take_along_axis(sims, part, axis=1)
        order = np.lexsort((part, -ps), axis=1)
        idx[s:e] = cols[np.take_along_axis(part, order, axis=1)]
        sim[s:e] = np.take_along_axis(ps, order, axis=1)
    return idx, sim


def reduce(vectors: np.ndarray, dims: int) -> np.ndarray:
    """``vectors`` projected onto their ``dims`` top right-singular directions (the vectors
    themselves when ``dims`` is 0 or not smaller than their width). Dot products between rows
    are kept as well as any ``dims``-dimensional projection can keep them."""
    v = np.asarray(vectors, dtype=np.float32)
    if dims <= 0 or dims >= v.shape[1]:
        return v
    gram = (v.T @ v).astype(np.float64)
    _, vecs = np.linalg.eigh(gram)  # ascending eigenvalues
    basis = vecs[:, ::-1][:, :dims].astype(np.float32)
    return np.ascontiguousarray(v @ basis)


def _memo_table(vectors: np.ndarray, allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`neighbour_table` at :data:`TABLE_SIZE`, remembered for the last vectors seen, so a
    grid search over ``neighbours`` or ``min_rating`` computes it once."""
    h = hashlib.sha1(
        np.ascontiguousarray(vectors).view(np.uint8), usedforsecurity=False
    ).hexdigest()
    key = (h, TABLE_SIZE, b"" if allowed is None else np.packbits(allowed).tobytes())
    if key not in _table_memo:
        _table_memo.clear()
        _table_memo[key] = neighbour_table(vectors, TABLE_SIZE, allowed=allowed)
    return _table_memo[key]


def text_vectors(
    catalog: Catalog,
    *,
    embedder: str = "auto",
    variant: str = "clean",
    vectors: np.ndarray | None = None,
    context: Context | None = None,
) -> tuple[np.ndarray, dict[str, str | None]]:
    """Unit description vectors of every catalog anime, and what they come from, loaded the
    way the content recommender loads them (the workspace's embedding cache, ``auto`` = the
    fine-tuned ``anime-minilm`` when trained): the one path for models that use text as side
    information (the text-regularised EASE family)."""
    params = ContentRecommender.Params(embedder=embedder, variant=variant)
    content = ContentRecommender(params, vectors=vectors, context=context)
    return content.catalog_vectors(catalog), content.input_identity()


class ContentRecommender(Recommender):
    """Nearest neighbours of the promoted anime in description-embedding space."""

    name: ClassVar[str] = "content"
    search_space: ClassVar[dict[str, list]] = {
        "neighbours": [3, 5, 10, 20],
        "min_rating": [9, 10],
    }

    @dataclass
    class Params:
        embedder: str = "auto"
        """Embedder name (``minilm``, ``mpnet``, a fine-tuned model name or path); ``auto`` is
        the workspace's fine-tuned ``anime-minilm`` when trained (it recommends better, see
        docs/experiments.md), else ``minilm``."""
        max_seq_length: int | None = None
        """Tokens per description; None = the embedder's default (384 for MiniLM, see
        :data:`animerec.embed.registry.MINILM`)."""
        backend: str = "torch"
        """How the embedder runs: ``torch``, ``onnx`` or ``onnx-int8`` (faster on a CPU; see
        docs/experiments.md for what int8 costs in accuracy)."""
        variant: str = "clean"
        """Description variant (``animerec.text.VARIANTS``: ``book`` or ``clean``)."""
        neighbours: int = 10
        """Nearest anime taken per promoted anime (at most ``TABLE_SIZE``); few and close
        neighbours (sequels, spin-offs) validate best."""
        min_rating: int = 9
        """Ratings from this value up are promotions (the book's NPS promoters: 9–10)."""
        aggregate: str = "count"
        """``count`` (the book: appearances, ties by mean similarity) or ``sum`` of similarities."""
        fallback_dims: int = FALLBACK_DIMS
        """Dimensions of the projection (onto the vectors' top singular directions) used to
        order anime outside every neighbour list; 0 = the full vectors."""
        min_item_raters: int = 0
        """Recommend only anime with this many training raters (0: the whole catalog)."""
        dislike_weight: float = 0.0
        """Added per appearance in a disliked anime's neighbour list (0: dislikes ignored)."""
        dislike_max: int = DISLIKE_MAX
        """Ratings at or below this are dislikes."""

    def __init__(
        self,
        params: Params | None = None,
        *,
        vectors: np.ndarray | None = None,
        context: Context | None = None,
    ) -> None:
        """``vectors`` (one row per catalog anime) replace the embedding cache (tests,
        studies); otherwise the vectors come from the cache of ``context``'s workspace (the
        default workspace without one)."""
        self.params = params or self.Params()
        p = self.params
        if p.aggregate not in ("count", "sum"):
            raise AnimerecError(f"content: aggregate must be 'count' or 'sum', not {p.aggregate!r}")
        if not 1 <= p.neighbours <= TABLE_SIZE:
            raise AnimerecError(
                f"content: neighbours must be in 1..{TABLE_SIZE}, got {p.neighbours}"
            )
        self.given_vectors = vectors
        self.context = context or Context()
        self.vectors: np.ndarray | None = None
        self.nbr_idx: np.ndarray | None = None
        self.nbr_sim: np.ndarray | None = None
        self.allowed: np.ndarray | None = None
        self._reduced: np.ndarray | None = None

    @classmethod
    def build(cls, params: Mapping[str, Any] | None = None, context: Context | None = None) -> Self:
        return cls(cls.Params(**dict(params or {})), context=context)

    # --- fitting --------------------------------------------------------------------------------
    def resolve_workspace(self) -> Workspace:
        """The workspace whose embedding cache the vectors come from."""
        ws = self.context.workspace
        return ws if ws is not None else Workspace.open()

    def embedder(self) -> Embedder:
        return get_embedder(
            self.params.embedder,
            workspace=self.resolve_workspace(),
            max_seq_length=self.params.max_seq_length,
            backend=self.params.backend,
        )

    def input_identity(self) -> dict[str, str | None]:
        """What the vectors come from, resolved (``auto`` → a model, the default length → a
        number, retrained weights → a new fingerprint), so caches keyed on it notice a change."""
        if self.given_vectors is not None:
            v = np.ascontiguousarray(self.given_vectors, np.float32)
            return {"vectors": hashlib.sha256(v.tobytes()).hexdigest()[:16]}
        embedder = self.embedder()
        return {"embedder": embedder.name, "fingerprint": embedder.fingerprint}

    def catalog_vectors(self, catalog: Catalog) -> np.ndarray:
        """Unit vectors of every catalog anime's description (given, or from the cache)."""
        if self.given_vectors is not None:
            v = np.asarray(self.given_vectors, np.float32)
        else:
            v = catalog_embeddings(
                self.embedder(), catalog, self.resolve_workspace(), self.params.variant,
                progress=None,
            )  # fmt: skip
        if v.ndim != 2 or len(v) != len(catalog):
            raise AnimerecError(f"content: {v.shape} vectors for a catalog of {len(catalog)} anime")
        return normalize(v)

    def fit(self, train: Ratings, catalog: Catalog) -> Self:
        vectors = self.catalog_vectors(catalog)
        allowed = None
        if self.params.min_item_raters > 0:
            pos = catalog.positions(train.anime_id)
            raters = np.bincount(pos[pos >= 0], minlength=len(catalog))
            allowed = raters >= self.params.min_item_raters
        idx, sim = _memo_table(vectors, allowed)
        n = min(self.params.neighbours, idx.shape[1])
        self._set(catalog, vectors, idx[:, :n].copy(), sim[:, :n].copy(), allowed)
        return self

    def _set(
        self,
        catalog: Catalog,
        vectors: np.ndarray,
        idx: np.ndarray,
        sim: np.ndarray,
        allowed: np.ndarray | None,
    ) -> None:
        self.catalog, self.vectors, self.nbr_idx, self.nbr_sim = catalog, vectors, idx, sim
        self.allowed = allowed
        self._reduced = reduce(vectors, self.params.fallback_dims)

    # --- scoring --------------------------------------------------------------------------------
    def liked(self, histories: Sequence[History]) -> tuple[np.ndarray, np.ndarray]:
        """(row, catalog position) of every anime each history promoted, rows ascending.

        A history with no promotion falls back to its best-rated anime, so everyone gets
        recommendations; anime outside the catalog and repeats are ignored."""
        catalog = self.fitted_catalog()
        n = len(histories)
        lens = np.fromiter((len(h) for h in histories), np.int64, n)
        ids = np.concatenate([h.anime_ids for h in histories]) if n else np.zeros(0, np.int64)
        rating = np.concatenate([h.ratings for h in histories]) if n else np.zeros(0, np.int8)
        row = np.repeat(np.arange(n), lens)
        pos = catalog.positions(ids)
        ok = pos >= 0
        row, pos, rating = row[ok], pos[ok], rating[ok].astype(np.int16)
        best = np.zeros(n, np.int16)
        np.maximum.at(best, row, rating)
        keep = rating >= np.maximum(np.minimum(best, self.params.min_rating), 1)[row]
        if self.params.dislike_weight:  # a dislike is never the fallback "liked" title
            keep &= rating > self.params.dislike_max
        key = np.unique(row[keep] * len(catalog) + pos[keep])  # sorted: rows ascending
        return key // len(catalog), key % len(catalog)

    def disliked(self, histories: Sequence[History]) -> tuple[np.ndarray, np.ndarray]:
        """(row, catalog position) of every anime each history rated ``≤ dislike_max``."""
        catalog = self.fitted_catalog()
        n = len(histories)
        if n == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        lens = np.fromiter((len(h) for h in histories), np.int64, n)
        ids = np.concatenate([h.anime_ids for h in histories])
        rating = np.concatenate([h.ratings for h in histories])
        row = np.repeat(np.arange(n), lens)
        pos = catalog.positions(ids)
        ok = (pos >= 0) & (rating <= self.params.dislike_max)
        key = np.unique(row[ok] * len(catalog) + pos[ok])
        return key // len(catalog), key % len(catalog)

    def liked_matrix(self, histories: Sequence[History]) -> sp.csr_matrix:
        """Histories × catalog, 1 on each promoted anime (see :meth:`liked`)."""
        row, pos = self.liked(histories)
        return sp.csr_matrix(
            (np.ones(len(row), np.float32), (row, pos)), shape=(len(histories), len(self.catalog))
        )

    def score(self, histories: Sequence[History]) -> np.ndarray:
        self.fitted_catalog()
        if len(histories) > SCORE_BLOCK:  # bound the dense temporaries
            return np.concatenate(
                [
                    self.score(histories[s : s + SCORE_BLOCK])
                    for s in range(0, len(histories), SCORE_BLOCK)
                ]
            )
        n, m = len(histories), len(self.catalog)
        row, pos = self.liked(histories)
        n_liked = np.bincount(row, minlength=n)
        # Similarity of every anime to the mean promoted vector: the order of anime in no list
        # (in the reduced space: a sixth of the memory traffic of this per-user product).
        r = self._reduced
        centroid = np.zeros((n, r.shape[1]), np.float32)
        if len(row):
            starts = np.flatnonzero(np.r_[True, row[1:] != row[:-1]])
            centroid[row[starts]] = np.add.reduceat(r[pos], starts, axis=0)
        centroid /= np.maximum(n_liked, 1)[:, None]
        out = centroid @ r.T
        np.clip(out, -1, 1, out=out)
        out += 1
        out *= TIE_SCALE / 2
        # Appearances in the promoted anime's neighbour lists and their summed similarity: only
        # the listed (history, anime) cells, found with one unique over the flattened lists.
        cell = (row[:, None] * m + self.nbr_idx[pos]).ravel()
        if len(cell):
            cells, inverse = np.unique(cell, return_inverse=True)
            counts = np.bincount(inverse).astype(np.float32)
            sums = np.bincount(inverse, self.nbr_sim[pos].ravel()).astype(np.float32)
            if self.params.aggregate == "count":
                mean = np.clip(sums / counts, -1, 1)
                listed = counts + TIE_SCALE * (1 + mean) / 2
            else:  # summed similarity, above every anime in no list
                listed = 1 + np.maximum(sums, 0)
            out.ravel()[cells] = listed
        out = out.astype(np.float32, copy=False)
        out[n_liked == 0] = 0.0  # nothing liked known of this history: every anime ties...
        if self.params.dislike_weight:
            self._push_away(out, histories)  # ...but what resembles a dislike sinks
        if self.allowed is not None:
            out[:, ~self.allowed] = -np.inf
        return out

    def _push_away(self, out: np.ndarray, histories: Sequence[History]) -> None:
        """Add ``dislike_weight`` (× similarity for ``sum``) to each cell of the disliked
        anime's neighbour lists, in place."""
        row, pos = self.disliked(histories)
        if not len(row):
            return
        m = out.shape[1]
        cell = (row[:, None] * m + self.nbr_idx[pos]).ravel()
        w = np.ones(cell.shape, np.float32)
        if self.params.aggregate == "sum":
            w = np.maximum(self.nbr_sim[pos].ravel(), 0)
        cells, inverse = np.unique(cell, return_inverse=True)
        out.ravel()[cells] += self.params.dislike_weight * np.bincount(inverse, w)

    def reasons(self, history: History, anime_ids: np.ndarray, scores: np.ndarray) -> list[str]:
        catalog = self.fitted_catalog()
        _, liked = self.liked([history])
        if len(liked) == 0:
            return ["similar to what you rated"] * len(anime_ids)
        rec = catalog.positions(anime_ids)
        sims = self.vectors[liked] @ self.vectors[np.maximum(rec, 0)].T  # [liked, rec]
        best = np.argmax(sims, axis=0)
        names = catalog.names
        return [
            because_you_liked(str(names[liked[b]]), float(sims[b, j]))
            if sims[b, j] > 0
            else "a change from what you liked"
            for j, b in enumerate(best)
        ]

    def item_vectors(self) -> np.ndarray | None:
        return self.vectors

    # --- persistence ----------------------------------------------------------------------------
    def state(self) -> dict[str, np.ndarray]:
        out = {
            "anime_ids": self.catalog.anime_ids,
            "vectors": self.vectors,
            "nbr_idx": self.nbr_idx,
            "nbr_sim": self.nbr_sim,
        }
        if self.allowed is not None:
            out["allowed"] = self.allowed
        return out

    def set_state(self, arrays: dict[str, np.ndarray], catalog: Catalog) -> None:
        if not np.array_equal(arrays["anime_ids"], catalog.anime_ids):
            raise AnimerecError(
                "the saved content model was fitted on a different catalog: refit it"
            )
        vectors = arrays["vectors"].astype(np.float32, copy=False)
        norms = np.linalg.norm(vectors, axis=1)
        if not np.allclose(norms[norms > 0], 1.0, atol=1e-4):  # saved unit: keep the (shared) map
            vectors = normalize(vectors)
        self._set(
            catalog,
            vectors,
            arrays["nbr_idx"].astype(np.int32, copy=False),
            arrays["nbr_sim"].astype(np.float32, copy=False),
            arrays.get("allowed"),
        )
