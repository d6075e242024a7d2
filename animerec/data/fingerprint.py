"""A content hash of the data a model learned from, so caches and manifests notice new data."""

from __future__ import annotations

import hashlib

import numpy as np

from animerec.data.catalog import Catalog
from animerec.data.ratings import Ratings

__all__ = ["data_fingerprint"]


def data_fingerprint(ratings: Ratings, catalog: Catalog | None = None) -> str:
    """A content hash of ratings (and the catalog's item ids): same data ⇔ same fingerprint."""
    h = hashlib.sha256()
    for a in (ratings.user_id, ratings.anime_id, ratings.rating):
        h.update(np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<"), copy=False).tobytes())
    if catalog is not None:
        h.update(np.ascontiguousarray(catalog.anime_ids, dtype="<i8").tobytes())
    return h.hexdigest()[:16]
