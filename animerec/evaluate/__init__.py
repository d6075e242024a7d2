"""Evaluation: the protocol split, metrics, tuning on training users, and comparison reports.

Import the report writer from :mod:`animerec.evaluate.report` (it pulls in matplotlib).
"""

from animerec.data.fingerprint import data_fingerprint
from animerec.data.split import Split, protocol_split, validation_split
from animerec.evaluate.franchise import FranchiseIndex, franchise_key
from animerec.evaluate.measure import EvalSettings, rank_lists
from animerec.evaluate.metrics import (
    Ci,
    EvalResult,
    Nps,
    bootstrap_ci,
    coverage,
    lookup_heldout,
    mean_popularity_rank,
    nps_by_rank_bucket,
    nps_pooled,
    ranking_metrics,
)
from animerec.evaluate.runner import Evaluation, evaluate
from animerec.evaluate.tune import Tuning, tune
from animerec.recommend.registry import UnknownModelError

__all__ = [
    "Ci",
    "EvalResult",
    "EvalSettings",
    "Evaluation",
    "FranchiseIndex",
    "Nps",
    "Split",
    "Tuning",
    "UnknownModelError",
    "bootstrap_ci",
    "coverage",
    "data_fingerprint",
    "evaluate",
    "franchise_key",
    "lookup_heldout",
    "mean_popularity_rank",
    "nps_by_rank_bucket",
    "nps_pooled",
    "protocol_split",
    "rank_lists",
    "ranking_metrics",
    "tune",
    "validation_split",
]
