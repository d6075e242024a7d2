"""The book's NPS reading of a MAL rating: 9–10 promote, 7–8 are passive, 6 and below detract.

Pair labels, the NPS metrics and the Spark labels all read ratings this way; the thresholds
live here once.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "DETRACTOR",
    "DETRACTOR_MAX",
    "PASSIVE",
    "PASSIVE_MIN",
    "PROMOTER",
    "PROMOTER_MIN",
    "nps",
]

PROMOTER, PASSIVE, DETRACTOR = 1, 0, -1
PROMOTER_MIN = 9
"""The lowest rating that promotes."""
PASSIVE_MIN = 7
"""The lowest passive rating (7–8); anything lower detracts."""
DETRACTOR_MAX = PASSIVE_MIN - 1


def nps(rating: np.ndarray) -> np.ndarray:
    """Ratings 1–10 as NPS: 9–10 → +1 (promoter), 7–8 → 0 (passive), ≤ 6 → −1 (detractor)."""
    r = np.asarray(rating)
    return np.where(
        r >= PROMOTER_MIN, PROMOTER, np.where(r >= PASSIVE_MIN, PASSIVE, DETRACTOR)
    ).astype(np.int8)
