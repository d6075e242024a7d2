"""The book's validation of a fine-tuned encoder: Spearman of cosine vs. the labels' ``val`` scores.

Measured before and after training on the same seeded sample of the ``val`` pairs of
:func:`animerec.labels.pair_labels`, from the ratings of the training users only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from animerec.data.ratings import Ratings
from animerec.finetune.settings import PairSettings
from animerec.labels import LabelSettings, pair_labels

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

__all__ = ["similarity_evaluator", "spearman", "validation_pairs"]


def validation_pairs(
    ratings: Ratings, users: np.ndarray, pair_settings: PairSettings, n: int, seed: int
) -> pd.DataFrame:
    """The labels' ``val`` pairs (every pair with enough co-raters, scored −1…1), sampled to ``n``."""
    labels = pair_labels(
        ratings, users, LabelSettings(pair_settings.min_corated, pair_settings.threshold, seed=seed)
    )
    val = labels[labels["split"] == "val"]
    if len(val) > n:
        val = val.iloc[np.sort(np.random.default_rng([seed, 6]).choice(len(val), n, replace=False))]
    return val


def similarity_evaluator(val: pd.DataFrame, texts: dict[int, str], batch_size: int) -> Any:
    """The book's EmbeddingSimilarityEvaluator: Spearman of cosine vs. agreement score."""
    ok = val["anime_a"].isin(list(texts)) & val["anime_b"].isin(list(texts))
    val = val[ok]
    if len(val) < 3:
        return None
    return _unique_text_evaluator()(
        [texts[a] for a in val["anime_a"].tolist()],
        [texts[b] for b in val["anime_b"].tolist()],
        val["score"].astype(float).tolist(),
        batch_size=batch_size,
        main_similarity="cosine",
        name="val",
        write_csv=False,
    )


def _unique_text_evaluator() -> type:
    """EmbeddingSimilarityEvaluator that encodes each distinct text once per call.

    Validation pairs share their anime (2,000 pairs ≈ 600 descriptions), and the library encodes
    both sides in full: on a CPU that is most of the cost of an evaluation. (The class is made
    here because sentence-transformers takes ~10 s to import, which the CLI must not pay.)
    """
    from sentence_transformers.sentence_transformer.evaluation import (
        EmbeddingSimilarityEvaluator,
    )

    class UniqueTextSimilarityEvaluator(EmbeddingSimilarityEvaluator):
        def __call__(self, model, *args, **kwargs):
            unique = list(dict.fromkeys([*self.sentences1, *self.sentences2]))
            vectors = super().embed_inputs(model, unique)
            self._memo = dict(zip(unique, vectors, strict=True))
            try:
                return super().__call__(model, *args, **kwargs)
            finally:
                self._memo = None

        def embed_inputs(self, model, sentences, **kwargs):
            memo = getattr(self, "_memo", None)
            if memo is None or kwargs:
                return super().embed_inputs(model, sentences, **kwargs)
            return np.stack([memo[t] for t in sentences])

    return UniqueTextSimilarityEvaluator


def spearman(evaluator: Any, model: SentenceTransformer) -> float | None:
    """The evaluator's Spearman for ``model`` (None without an evaluator: too few pairs)."""
    if evaluator is None:
        return None
    return float(evaluator(model)[evaluator.primary_metric])
