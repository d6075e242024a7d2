"""The embedding study of docs/experiments.md: fine-tuned vs base text embedders as recommenders.

Every figure of docs/experiments.md comes from one of these steps (each resumable: models already
trained, vectors already in the workspace's embedding cache and results already written are
reused; delete ``WS/study/<step>/<label>.json`` to redo one):

    export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
    S="python benchmarks/embedding_study.py --workspace WS"
    $S list                         # the configurations below
    $S train NAME...                # fine-tune configurations (WS/models/NAME)
    $S encode LABEL...              # encode the catalog into the embedding cache
    $S extend base@384 base@512     # the same, encoding only descriptions longer than 256 tokens
    $S select LABEL...              # content NDCG@10 on VALIDATION users (model selection)
    $S dev LABEL... [--hybrid]      # content (and hybrid) on the DEV protocol's test users
    $S dev-both LABEL...            # hybrid with base MiniLM and LABEL as two content members
    $S coldstart LABEL...           # the cold-start item test
    $S coldscore [--val] LABEL...   # cold-start items by the content recommender and plain
                                    # similarity rules; A+B = both spaces; --val: validation users
    $S coldfolds base@256 ad256-rare  # the cold-start test over a 10-fold partition of the catalog
    $S onnx base@128                # int8 vs fp32: vector agreement and content NDCG@10
    $S rated mpnet@128 base@128     # content over rated anime only (for slow embedders)
    $S report                       # markdown tables (+ NPS-by-rank plot in WS/study/)

A LABEL is a configuration name (a fine-tuned model) or ``base@N`` (MiniLM as shipped, at
max_seq_length N), or ``mpnet@N``. Configurations whose name starts with ``sel-`` are trained on
the validation split's training users only (``validation_split(protocol_split(r).train)``), so
their validation-user score is an honest basis for choosing a recipe; ``cold-`` ones are trained
without the ratings of the cold-start anime; the rest on the DEV protocol's training users.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from animerec.recommend import registry
from animerec.recommend.content import ContentRecommender
from animerec.recommend.hybrid import HybridRecommender
from animerec.workspace import Workspace

from .coldstart import coldfolds, coldscore, coldstart
from .configs import CONFIGS
from .content import dev, dev_both, onnx, rated, select
from .report import report
from .study import Study
from .training import encode, extend, train


def ensure_registered() -> None:
    """Content and hybrid under their names in the recommender registry (if not there yet)."""
    for cls in (ContentRecommender, HybridRecommender):
        registry.RECOMMENDERS.setdefault(cls.name, cls)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--workspace", "-w", required=True, type=Path)
    ap.add_argument(
        "step",
        choices=[
            "list",
            "train",
            "encode",
            "extend",
            "select",
            "dev",
            "coldstart",
            "coldscore",
            "coldfolds",
            "dev-both",
            "onnx",
            "rated",
            "report",
        ],
    )
    ap.add_argument("names", nargs="*")
    ap.add_argument("--hybrid", action="store_true", help="dev: also the hybrid with each embedder")
    ap.add_argument("--cf", action="store_true", help="coldstart: also EASE, ALS and popularity")
    ap.add_argument("--val", action="store_true", help="coldscore: on the validation users")
    ap.add_argument("--device", default=None, help="encode: cpu, cuda… (default cpu)")
    ap.add_argument("--base", default="base@128", help="report: the label deltas are taken against")
    ap.add_argument("--source", default="base@256", help="extend: the shorter length to copy from")
    a = ap.parse_intermixed_args(argv)
    if a.step == "list":
        for name, c in CONFIGS.items():
            s = c["settings"]
            p = s.pairs
            print(
                f"{name:22s} users={c['users']:6s} {s.method:7s} loss={s.loss:6s} seq={s.max_seq_length} "
                f"batch={s.batch_size} lr={s.learning_rate:g} recipe={p.recipe} "
                f"k={p.neighbours} min_raters={p.min_raters} negatives={p.hard_negatives}"
            )
        return
    ensure_registered()
    study = Study(Workspace(a.workspace))
    unknown = [n for n in a.names if n not in CONFIGS]
    if a.step == "train" and unknown:
        sys.exit(f"unknown configuration(s): {', '.join(unknown)}")
    steps: dict[str, Callable[[], None]] = {
        "train": lambda: train(study, a.names),
        "encode": lambda: encode(study, a.names, a.device),
        "extend": lambda: extend(study, a.names, a.source),
        "rated": lambda: rated(study, a.names),
        "onnx": lambda: onnx(study, a.names),
        "select": lambda: select(study, a.names),
        "dev": lambda: dev(study, a.names, a.hybrid),
        "dev-both": lambda: dev_both(study, a.names),
        "coldstart": lambda: coldstart(study, a.names, a.cf),
        "coldscore": lambda: coldscore(study, a.names, a.val),
        "coldfolds": lambda: coldfolds(study, a.names),
        "report": lambda: report(study, a.base),
    }
    steps[a.step]()
