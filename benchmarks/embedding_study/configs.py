"""The study's fine-tuning configurations (``$S list`` prints them).

Configurations whose name starts with ``sel-`` are trained on the validation split's training users
only, so their validation-user score is an honest basis for choosing a recipe; ``cold-`` ones are
trained without the ratings of the cold-start anime; the rest on the DEV protocol's training users.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from animerec.finetune import FinetuneSettings, PairSettings

from .study import FOLDS

STEPS = 200
"""Optimiser steps of a study run (batch 32: 6,400 pairs). Fixed steps, not a time budget, so a
run does not depend on how busy the machine was."""

BOOK = PairSettings(recipe="book")


TEACHER = PairSettings(recipe="ease", neighbours=3, min_raters=10)
"""The study's runs spell out every choice that differs from :class:`PairSettings`' neutral
defaults (and from :class:`FinetuneSettings`' recommended ones: ``method``, ``max_seq_length``)."""


def cfg(
    loss: str = "mnrl",
    pairs: PairSettings = TEACHER,
    *,
    seq: int = 128,
    users: str = "train",
    **ft: Any,
) -> dict[str, Any]:
    ft.setdefault("max_steps", STEPS)
    settings = FinetuneSettings(loss=loss, method="full", max_seq_length=seq, pairs=pairs, **ft)
    return {"settings": settings, "users": users}


def ad(
    loss: str = "mnrl",
    pairs: PairSettings | None = None,
    *,
    seq: int = 128,
    users: str = "train",
    **ft: Any,
) -> dict[str, Any]:
    """An adapter configuration (frozen encoder, trained Dense over cached base vectors)."""
    pairs = pairs or replace(TEACHER, neighbours=10)
    settings = FinetuneSettings(loss=loss, method="adapter", max_seq_length=seq, pairs=pairs, **ft)
    return {"settings": settings, "users": users}


K10 = replace(TEACHER, neighbours=10)


# The book's recipe: agreement labels, CosineSimilarityLoss, balanced classes, batch 16, 1 epoch.
BOOK_FT = {"batch_size": 16, "learning_rate": 2e-5, "epochs": 1.0, "max_steps": None}


CONFIGS: dict[str, dict[str, Any]] = {
    # --- DEV: the book's recipe vs the teacher recipe, seq 128 --------------------------------------
    "book128": cfg("cosine", BOOK, **BOOK_FT),
    "ease128": cfg("mnrl", TEACHER),
    # --- selection (validation users; trained on the validation split's training users) -------------
    "sel-book": cfg("cosine", BOOK, users="select", **BOOK_FT),
    "sel-ease": cfg("mnrl", TEACHER, users="select"),
    "sel-ease-lr2e-5": cfg("mnrl", TEACHER, users="select", learning_rate=2e-5),
    "sel-ease-lr1e-4": cfg("mnrl", TEACHER, users="select", learning_rate=1e-4),
    "sel-ease-k5": cfg("mnrl", replace(TEACHER, neighbours=5), users="select"),
    "sel-ease-pop": cfg("mnrl", replace(TEACHER, neighbours=5, min_raters=30), users="select"),
    "sel-ease-wide": cfg("mnrl", replace(TEACHER, neighbours=2, min_raters=3), users="select"),
    "sel-ease-mined": cfg("mnrl", replace(TEACHER, hard_negatives="mined"), users="select"),
    "sel-ease-detracted": cfg("mnrl", replace(TEACHER, hard_negatives="detracted"), users="select"),
    "sel-ease-cached128": cfg("mnrl", TEACHER, users="select", batch_size=128, mini_batch_size=32),
    "sel-jaccard": cfg("mnrl", PairSettings(recipe="jaccard"), users="select"),
    "sel-lift": cfg("mnrl", PairSettings(recipe="lift"), users="select"),
    # --- selection: adapters (frozen MiniLM + trained Dense) --------------------------------------
    "sel-ad-book": ad("cosine", BOOK, users="select"),
    "sel-ad-k3": ad("mnrl", TEACHER, users="select"),
    "sel-ad-k10": ad("mnrl", K10, users="select"),
    "sel-ad-k20": ad("mnrl", replace(TEACHER, neighbours=20), users="select"),
    "sel-ad-k10-wide": ad("mnrl", replace(K10, min_raters=3), users="select"),
    "sel-ad-k10-graded": ad("mnrl", replace(K10, ease_graded=True), users="select"),
    "sel-ad-k10-ep100": ad("mnrl", K10, users="select", epochs=100.0),
    "sel-ad-k10-mined": ad("mnrl", replace(K10, hard_negatives="mined"), users="select"),
    "sel-ad-k10-rare": ad("mnrl", replace(K10, hard_negatives="rare"), users="select"),
    "sel-ad-k10-cosine": ad("cosine", K10, users="select"),
    "sel-ad-k10-cosent": ad("cosent", K10, users="select"),
    "sel-ad-jaccard-k10": ad("mnrl", PairSettings(recipe="jaccard", neighbours=10), users="select"),
    "sel-ad-lift-k10": ad("mnrl", PairSettings(recipe="lift", neighbours=10), users="select"),
    # --- DEV: sequence lengths and losses of the chosen recipe --------------------------------------
    "ease256": cfg("mnrl", TEACHER, seq=256),
    "ease384": cfg("mnrl", TEACHER, seq=384),
    "ease512": cfg("mnrl", TEACHER, seq=512),
    "ease128-cosine": cfg("cosine", TEACHER),
    "ease128-cosent": cfg("cosent", TEACHER),
    # --- DEV: the selected recipe (sel-ad-k10) at each sequence length and with each loss --------
    "ad128": ad("mnrl", K10),
    "ad256": ad("mnrl", K10, seq=256),
    "ad384": ad("mnrl", K10, seq=384),
    "ad512": ad("mnrl", K10, seq=512),
    "ad128-cosine": ad("cosine", K10),
    "ad128-cosent": ad("cosent", K10),
    "ad128-book": ad("cosine", BOOK),
    "ad384-rare": ad("mnrl", replace(K10, hard_negatives="rare"), seq=384),
    # --- cold-start items ---------------------------------------------------------------------------
    "cold-ease128": cfg("mnrl", TEACHER, users="cold"),
    "cold-ad128": ad("mnrl", K10, users="cold"),
    "cold-ad256": ad("mnrl", K10, seq=256, users="cold"),
    "cold-ad256-wide": ad("mnrl", replace(K10, min_raters=3), seq=256, users="cold"),
    "cold-ad256-k3": ad("mnrl", TEACHER, seq=256, users="cold"),
    "cold-ad256-ep5": ad("mnrl", K10, seq=256, users="cold", epochs=5.0),
    "cold-ad256-rare": ad("mnrl", replace(K10, hard_negatives="rare"), seq=256, users="cold"),
    # --- cold-start, validation: trained without the cold and the validation-cold anime, on the
    # validation split's training users (choosing a recipe and a rule for new anime) -------------
    "vcold-ease128": cfg("mnrl", TEACHER, users="vcold"),
    "vcold-ad256": ad("mnrl", K10, seq=256, users="vcold"),
    "vcold-ad256-rare": ad("mnrl", replace(K10, hard_negatives="rare"), seq=256, users="vcold"),
}


# --- k-fold cold start: a recipe trained once per fold (``fold<f>-<recipe>``) without that fold ---
FOLD_RECIPES: dict[str, Any] = {
    "ad256": lambda users: ad("mnrl", K10, seq=256, users=users),
    "ad256-rare": lambda users: ad(
        "mnrl", replace(K10, hard_negatives="rare"), seq=256, users=users
    ),
    "ad384": lambda users: ad("mnrl", K10, seq=384, users=users),
    "ad384-rare": lambda users: ad(  # the default recipe (scripts/main.sh)
        "mnrl", replace(K10, hard_negatives="rare"), seq=384, users=users
    ),
}


for _f in range(FOLDS):
    for _recipe, _make in FOLD_RECIPES.items():
        CONFIGS[f"fold{_f}-{_recipe}"] = _make(f"fold{_f}")
