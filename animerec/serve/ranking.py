"""The one place the API asks a model for recommendations.

Every recommend endpoint (``POST /recommend``, ``/anime/{id}/similar``,
``/users/{id}/recommendations``) goes through :func:`rank`, so a shared ranking pipeline can
replace the model call here without touching the routes.
"""

from __future__ import annotations

from animerec.data.ratings import History
from animerec.recommend.base import Recommender
from animerec.recommend.dislikes import DislikeNeighbours
from animerec.recommend.evidence import Evidence
from animerec.recommend.explain import Recommendation, explain
from animerec.recommend.filters import Filters
from animerec.recommend.pipeline import Fallback, RankOptions, rank_batch


def rank(
    model: Recommender,
    history: History,
    k: int,
    explore: float,
    filters: Filters | None = None,
    fallback: Fallback | None = None,
    franchise: bool = True,
    dislikes: DislikeNeighbours | None = None,
    evidence: Evidence | None = None,
) -> list[Recommendation]:
    """The top ``k`` for one history through the ranking pipeline the CLI and the evaluation use:
    the uniform filters, exploration at ``explore`` > 0, and the popularity fallback for a
    history the model can say nothing about; ``dislikes``: the dislike step's neighbours (applied at
    the served strength, ``DISLIKE_STRENGTH``); with ``evidence``, titles few fans rated come only
    as labelled new titles at ``explore = 0`` (:mod:`animerec.recommend.evidence`)."""
    # Franchise-aware at explore 0, as a fan expects: entry points, one card per franchise.
    options = RankOptions(
        k=k, filters=filters or Filters(), explore=explore, franchise=franchise and explore == 0
    )
    ranked = rank_batch(
        model, [history], options, fallback=fallback, dislikes=dislikes, evidence=evidence
    )
    return explain(model, [history], ranked, fallback)[0]


__all__ = ["rank"]
