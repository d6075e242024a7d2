"""Content-based recommendations: the book's method over description embeddings.

For every anime the user promoted (rated ``min_rating`` or more), take its ``neighbours`` nearest
anime in embedding space; recommend the anime that appear most often among those neighbour
lists, ties going to the higher mean similarity (``aggregate="count"``, the book's rule), or rank
by the summed similarity (``aggregate="sum"``). Anime that appear in no list follow, ordered by
their similarity to the mean of the promoted anime, so every catalog item gets a score and
cold-start anime (rated by nobody) can be recommended.

Fitting reads the catalog's vectors from the workspace's embedding cache (encoding only what is
missing) and precomputes each anime's top neighbours with blocked matrix products, so scoring is
two sparse products and one dense product per batch — no Python loop over the catalog.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Self

import numpy as np
import scipy.sparse as sp

from animerec.data.catalog import Catalog
from animerec.data.ratings import History, Ratings
from animerec.embed.base import normalize
from animerec.errors import AnimerecError
from animerec.recommend.base import Recommender
from animerec.recommend.explain import because_you_liked, title
from animerec.workspace import Workspace

TABLE_SIZE = 100
"""Neighbours kept per anime in the fitted table (``neighbours`` may use fewer)."""
BLOCK = 1024
"""Catalog rows per block of the all-pairs similarity product (bounds memory to BLOCK × catalog)."""
SCORE_BLOCK = 512
"""Histories scored at once (each block holds a few dense ``[block, catalog]`` arrays)."""
TIE_SCALE = 0.99
"""Similarity tie-breakers live in [0, TIE_SCALE], below one extra neighbour-list appearance."""

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


def _memo_table(vectors: np.ndarray, allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`neighbour_table` at :data:`TABLE_SIZE`, remembered for the last vectors seen, so a
    grid search over ``neighbours`` or ``min_rating`` computes it once."""
    h = hashlib.sha1(np.ascontiguousarray(vectors).view(np.uint8)).hexdigest()
    key = (h, TABLE_SIZE, b"" if allowed is None else np.packbits(allowed).tobytes())
    if key not in _table_memo:
        _table_memo.clear()
        _table_memo[key] = neighbour_table(vectors, TABLE_SIZE, allowed=allowed)
    return _table_memo[key]


class ContentRecommender(Recommender):
    """Nearest neighbours of the promoted anime in description-embedding space."""

    name: ClassVar[str] = "content"
    search_space: ClassVar[dict[str, list]] = {
        "neighbours": [3, 5, 10, 20],
        "min_rating": [9, 10],
    }

    @dataclass
    class Params:
        embedder: str = "minilm"
        """Embedder name (``minilm``, ``mpnet``, a fine-tuned model name or path)."""
        max_seq_length: int | None = None
        """Tokens per description; None = the embedder's default (256 for MiniLM)."""
        variant: str = "clean"
        """Description variant (``animerec.text.VARIANTS``: ``book`` or ``clean``)."""
        neighbours: int = 10
        """Nearest anime taken per promoted anime (at most ``TABLE_SIZE``); few and close
        neighbours (sequels, spin-offs) validate best."""
        min_rating: int = 9
        """Ratings from this value up are promotions (the book's NPS promoters: 9–10)."""
        aggregate: str = "count"
        """``count`` (the book: appearances, ties by mean similarity) or ``sum`` of similarities."""
        min_item_raters: int = 0
        """Recommend only anime with this many training raters (0: the whole catalog)."""
        workspace: str | None = None
        """Workspace holding the embedding cache (None: the default workspace)."""

    def __init__(
        self,
        params: Params | None = None,
        *,
        vectors: np.ndarray | None = None,
        workspace: Workspace | None = None,
    ) -> None:
        self.params = params or self.Params()
        p = self.params
        if p.aggregate not in ("count", "sum"):
            raise AnimerecError(f"content: aggregate must be 'count' or 'sum', not {p.aggregate!r}")
        if not 1 <= p.neighbours <= TABLE_SIZE:
            raise AnimerecError(
                f"content: neighbours must be in 1..{TABLE_SIZE}, got {p.neighbours}"
            )
        self._given_vectors = vectors
        self.workspace = workspace
        self.vectors: np.ndarray | None = None
        self.nbr_idx: np.ndarray | None = None
        self.nbr_sim: np.ndarray | None = None
        self.allowed: np.ndarray | None = None
        self._counts: sp.csr_matrix | None = None
        self._sims: sp.csr_matrix | None = None

    # --- fitting --------------------------------------------------------------------------------
    def resolve_workspace(self) -> Workspace:
        if self.params.workspace is not None:
            return Workspace.open(self.params.workspace)
        return self.workspace if self.workspace is not None else Workspace.open()

    def embedder(self):
        from animerec.embed.registry import get_embedder

        return get_embedder(
            self.params.embedder,
            workspace=self.resolve_workspace(),
            max_seq_length=self.params.max_seq_length,
        )

    def catalog_vectors(self, catalog: Catalog) -> np.ndarray:
        """Unit vectors of every catalog anime's description (given, or from the cache)."""
        if self._given_vectors is not None:
            v = np.asarray(self._given_vectors, np.float32)
        else:
            from animerec.embed.cache import catalog_embeddings

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
        m, n = idx.shape
        rows = np.repeat(np.arange(m), n)
        self._counts = sp.csr_matrix(
            (np.ones(m * n, np.float32), (rows, idx.ravel())), shape=(m, m)
        )
        self._sims = sp.csr_matrix((sim.ravel().astype(np.float32), (rows, idx.ravel())), (m, m))
        self.catalog, self.vectors, self.nbr_idx, self.nbr_sim = catalog, vectors, idx, sim
        self.allowed = allowed

    # --- scoring --------------------------------------------------------------------------------
    def liked_matrix(self, histories: Sequence[History]) -> sp.csr_matrix:
        """Histories × catalog, 1 on each promoted anime; a history with no promotion falls back
        to its best-rated anime, so everyone gets recommendations. Anime outside the catalog
        are ignored."""
        catalog = self._require_fitted()
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
        liked = sp.csr_matrix(
            (np.ones(int(keep.sum()), np.float32), (row[keep], pos[keep])),
            shape=(n, len(catalog)),
        )
        liked.data[:] = 1.0  # an anime listed twice in a history counts once
        return liked

    def score(self, histories: Sequence[History]) -> np.ndarray:
        self._require_fitted()
        if len(histories) > SCORE_BLOCK:  # bound the dense temporaries
            return np.concatenate(
                [
                    self.score(histories[s : s + SCORE_BLOCK])
                    for s in range(0, len(histories), SCORE_BLOCK)
                ]
            )
        x = self.liked_matrix(histories)
        counts = (x @ self._counts).toarray()
        sums = (x @ self._sims).toarray()
        n_liked = np.asarray(x.sum(axis=1)).ravel()
        # Similarity of every anime to the mean liked vector: the order of anime in no list.
        centroid = np.asarray(x @ self.vectors) / np.maximum(n_liked, 1)[:, None]
        fallback = centroid @ self.vectors.T
        if self.params.aggregate == "count":
            mean = np.where(counts > 0, sums / np.maximum(counts, 1), fallback)
            out = counts + TIE_SCALE * (1 + np.clip(mean, -1, 1)) / 2
        else:
            # Summed similarity, above every anime in no list.
            out = np.where(
                counts > 0,
                1 + np.maximum(sums, 0),
                TIE_SCALE * (1 + np.clip(fallback, -1, 1)) / 2,
            )
        out = out.astype(np.float32)
        out[n_liked == 0] = 0.0  # nothing known of this history: every anime ties
        if self.allowed is not None:
            out[:, ~self.allowed] = -np.inf
        return out

    def reasons(self, history: History, anime_ids: np.ndarray, scores: np.ndarray) -> list[str]:
        catalog = self._require_fitted()
        liked = self.liked_matrix([history]).indices
        if len(liked) == 0:
            return ["similar to what you rated"] * len(anime_ids)
        rec = catalog.positions(anime_ids)
        sims = self.vectors[liked] @ self.vectors[np.maximum(rec, 0)].T  # [liked, rec]
        best = np.argmax(sims, axis=0)
        return [
            because_you_liked(title(catalog, int(catalog.anime_ids[liked[b]])), float(sims[b, j]))
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
        self._set(
            catalog,
            normalize(arrays["vectors"].astype(np.float32)),
            arrays["nbr_idx"].astype(np.int32),
            arrays["nbr_sim"].astype(np.float32),
            arrays.get("allowed"),
        )
