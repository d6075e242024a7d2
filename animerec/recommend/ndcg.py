"""Binary NDCG@k: the one definition, shared by the evaluation and the hybrid's weight search.

It lives in the recommend layer (not in :mod:`animerec.evaluate.metrics`) because the hybrid
learns its fusion weights by maximising it and may not import the evaluation above it; the
evaluation's metrics call the same kernel, so both mean the same number.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ndcg"]


def ndcg(relevant: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """Binary NDCG@k of every row with at least one relevant item (other rows are dropped).

    ``relevant`` (``[n, ≥ k]`` or fewer columns, bool or 0/1) marks the relevant items of each
    ranked list, best first; ``n_relevant`` (``[n]``) counts each row's relevant items overall.
    DCG discounts rank ``r`` (0-based) by ``1 / log2(r + 2)``; the ideal DCG puts
    ``min(k, n_relevant)`` hits first.
    """
    rel = np.asarray(relevant)[:, :k].astype(np.float64)
    n_relevant = np.asarray(n_relevant)
    discount = 1.0 / np.log2(np.arange(2, k + 2, dtype=np.float64))
    counted = n_relevant >= 1
    n_ideal = np.minimum(n_relevant[counted], k)
    idcg = np.concatenate([[0.0], np.cumsum(discount)])[n_ideal]
    dcg = rel[counted] @ discount[: rel.shape[1]]
    return dcg / idcg
