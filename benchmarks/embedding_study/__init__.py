"""The embedding study of docs/experiments.md, one module per step family.

``python benchmarks/embedding_study.py -w WS STEP ...`` (or ``python -m
benchmarks.embedding_study``) runs it; :mod:`.cli` lists the steps. :mod:`.study` holds the data
and partitions, :mod:`.configs` the fine-tuning configurations, :mod:`.stats` the paired deltas,
and :mod:`.training`, :mod:`.content`, :mod:`.coldstart` and :mod:`.report` the steps.
"""

from .cli import ensure_registered, main
from .coldstart import COLD_CONTENT, COLD_RULES, coldfolds, coldscore, coldstart, label_vectors
from .configs import BOOK, CONFIGS, FOLD_RECIPES, K10, STEPS, TEACHER, ad, cfg
from .content import SELECT_NEIGHBOURS, dev, dev_both, evaluate_label, onnx, rated, select
from .report import plot_buckets, report, report_folds
from .stats import paired_delta, per_user, pooled_delta, user_metrics
from .study import FOLDS, Study, content_params, new_anime, parse_label
from .training import encode, extend, train

__all__ = [
    "BOOK",
    "COLD_CONTENT",
    "COLD_RULES",
    "CONFIGS",
    "FOLDS",
    "FOLD_RECIPES",
    "K10",
    "SELECT_NEIGHBOURS",
    "STEPS",
    "TEACHER",
    "Study",
    "ad",
    "cfg",
    "coldfolds",
    "coldscore",
    "coldstart",
    "content_params",
    "dev",
    "dev_both",
    "encode",
    "ensure_registered",
    "evaluate_label",
    "extend",
    "label_vectors",
    "main",
    "new_anime",
    "onnx",
    "paired_delta",
    "parse_label",
    "per_user",
    "plot_buckets",
    "pooled_delta",
    "rated",
    "report",
    "report_folds",
    "select",
    "train",
    "user_metrics",
]
