"""The protocol split, re-exported from :mod:`animerec.data.split` (where it lives, below every
layer that learns) for callers outside the package that still import it from here."""

from animerec.data.split import SEED, Split, protocol_split, validation_split

__all__ = ["SEED", "Split", "protocol_split", "validation_split"]
