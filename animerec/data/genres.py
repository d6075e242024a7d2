"""One parser for a catalog row's genres (MAL writes them as ``"Action, Comedy"``)."""

from __future__ import annotations

import numpy as np

__all__ = ["parse_genres"]


def parse_genres(value: object) -> list[str]:
    """Genres of one catalog row: a comma-separated string or a list of names; [] for none.

    Names are stripped and empty ones dropped, so ``"Action, , Comedy"`` is two genres.
    """
    if isinstance(value, str):
        return [g.strip() for g in value.split(",") if g.strip()]
    if isinstance(value, list | tuple | np.ndarray):
        return [str(g).strip() for g in value if str(g).strip()]
    return []
