"""What a fine-tuning run reads: each anime's description, and the rows the loss trains on."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from animerec.data.catalog import Catalog
from animerec.errors import AnimerecError
from animerec.finetune.training_pairs import TrainingPairs
from animerec.text import describe

if TYPE_CHECKING:
    from datasets import Dataset

__all__ = ["anime_texts", "training_dataset"]


def anime_texts(catalog: Catalog, variant: str) -> dict[int, str]:
    """Anime id → its generated description."""
    texts = describe(catalog, variant)
    return dict(zip(catalog.anime_ids.tolist(), texts, strict=True))


def training_dataset(pairs: TrainingPairs, texts: dict[int, str], loss: str) -> Dataset:
    """The ``datasets.Dataset`` the loss expects: (anchor, positive[, negative]) for MNRL,
    (sentence1, sentence2, score) for the pair losses. Anime without a description are dropped."""
    # Loaded here, not at module top: `datasets` adds 0.7 s to `import animerec.cli` (measured),
    # which every `animerec` command would pay.
    from datasets import Dataset

    known = np.fromiter((a in texts for a in pairs.anchor.tolist()), bool, len(pairs))
    known &= np.fromiter((b in texts for b in pairs.other.tolist()), bool, len(pairs))
    p = pairs.take(np.flatnonzero(known))
    if len(p) == 0:
        raise AnimerecError("no training pair has both anime in the catalog")
    a = [texts[i] for i in p.anchor.tolist()]
    b = [texts[i] for i in p.other.tolist()]
    if loss == "mnrl":
        cols: dict[str, list] = {"anchor": a, "positive": b}
        has_neg = np.fromiter((n in texts for n in p.negative.tolist()), bool, len(p))
        if has_neg.all():
            cols["negative"] = [texts[n] for n in p.negative.tolist()]
        return Dataset.from_dict(cols)
    return Dataset.from_dict({"sentence1": a, "sentence2": b, "score": p.target.tolist()})
