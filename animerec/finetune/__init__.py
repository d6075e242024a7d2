"""Fine-tuning text embedders on what fans co-like (pairs from training users only).

The package namespace holds the settings, :data:`RECOMMENDED` (the study's winning run: the
default of the run and of ``animerec finetune``) included. The run itself is
:func:`animerec.finetune.run.finetune` and the pairs :func:`animerec.finetune.pairs.build_pairs`:
they load the recommend package (the EASE teacher), 0.3 s that the settings — read by the CLI at
start-up — do not need (measured with ``python -X importtime -c "import animerec.cli"``).
"""

from animerec.finetune.settings import (
    HARD_NEGATIVES,
    LOSSES,
    METHODS,
    RECIPES,
    RECOMMENDED,
    RECOMMENDED_PAIRS,
    FinetuneSettings,
    PairSettings,
)

__all__ = [
    "HARD_NEGATIVES",
    "LOSSES",
    "METHODS",
    "RECIPES",
    "RECOMMENDED",
    "RECOMMENDED_PAIRS",
    "FinetuneSettings",
    "PairSettings",
]
