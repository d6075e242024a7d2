"""The one place the API asks a model for recommendations.

Every recommend endpoint (``POST /recommend``, ``/anime/{id}/similar``,
``/users/{id}/recommendations``) goes through :func:`rank`, so a shared ranking pipeline can
replace the model call here without touching the routes.
"""

from __future__ import annotations

from animerec.data.ratings import History
from animerec.recommend.base import Recommendation, Recommender


def rank(model: Recommender, history: History, k: int, explore: float) -> list[Recommendation]:
    """The top ``k`` for one history (exploration re-ranking at ``explore`` > 0)."""
    return model.recommend([history], k, explore=explore)[0]


__all__ = ["rank"]
