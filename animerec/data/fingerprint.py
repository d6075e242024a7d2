"""The data fingerprint: one hash that says "the same ratings and catalog" to every cache.

Tuning, the hybrid's learned fusion and the model store key their caches on it, so it lives
with the data, below all of them.
"""

from __future__ import annotations

import hashlib

import numpy as np

from animerec.data.catalog import Catalog
from animerec.data.ratings import Ratings
from animerec.workspace import Workspace

__all__ = ["data_fingerprint", "workspace_fingerprint"]


def data_fingerprint(ratings: Ratings, catalog: Catalog | None = None) -> str:
    """A content hash of ratings (and the catalog's item ids): same data ⇔ same fingerprint."""
    h = hashlib.sha256()
    for a in (ratings.user_id, ratings.anime_id, ratings.rating):
        h.update(np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<"), copy=False).tobytes())
    if catalog is not None:
        h.update(np.ascontiguousarray(catalog.anime_ids, dtype="<i8").tobytes())
    return h.hexdigest()[:16]


def workspace_fingerprint(workspace: Workspace) -> str:
    """The ingest fingerprint recorded in the workspace manifest; a content hash of its
    ratings and catalog (:func:`data_fingerprint`) when the manifest has none."""
    fp = workspace.read_manifest().get("ingest", {}).get("fingerprint")
    if fp:
        return str(fp)
    return data_fingerprint(Ratings.read(workspace.ratings), Catalog.read(workspace.anime))
