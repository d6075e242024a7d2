"""Fine-tuning text embedders on what fans co-like (pairs from training users only)."""

from animerec.finetune.pairs import RECIPES, PairSettings, TrainingPairs, build_pairs
from animerec.finetune.train import (
    LOSSES,
    FinetuneResult,
    FinetuneSettings,
    finetune,
    read_manifest,
)

__all__ = [
    "LOSSES",
    "RECIPES",
    "FinetuneResult",
    "FinetuneSettings",
    "PairSettings",
    "TrainingPairs",
    "build_pairs",
    "finetune",
    "read_manifest",
]
