"""The protocol split lives in :mod:`animerec.data.split` (below every layer that learns); this
re-export only keeps branches still in flight importing. Import from ``animerec.data.split``."""

from animerec.data.split import SEED, Split, protocol_split, validation_split

__all__ = ["SEED", "Split", "protocol_split", "validation_split"]
