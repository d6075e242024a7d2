"""Training pairs for fine-tuning: which anime descriptions the encoder should pull together.

Every recipe reads the ratings of the *given users only* (the protocol's training users, or every
user for production models), so evaluation users can never shape what the encoder learns.

Recipes (:data:`RECIPES`):

``book``
    The book's agreement labels (DESIGN §4, :func:`animerec.labels.pair_labels`): pairs with
    ``score ≥ threshold`` are positives, ``score ≤ -threshold`` negatives, balanced to equal
    numbers by default. These labels mostly say "acclaimed ≈ acclaimed" (14.5 k positives vs
    0.5 k negatives over ~700 popular anime on the sample), which is why they transfer poorly.
``jaccard`` / ``lift``
    Popularity-corrected co-liking: each anchor's top partners by the Jaccard index of the two
    sets of fans (users rating ≥ ``min_rating``), or by shrunk lift ``c·N / (n_a·n_b)`` weighted by
    ``c / (c + shrink)``, which favours pairs liked together more than their popularity predicts.
``ease``
    A collaborative teacher: each anchor's top neighbours in the item-item weights of EASE fitted
    on the same users — distilling collaborative neighbourhoods into the text encoder, which is
    what items without ratings (cold start) need.

A recipe yields positive pairs (target 1) and, for the pair losses, negatives: the book's detracted
pairs (target ``negative_target``) or, for the neighbour recipes, random pairs (target 0). For
MultipleNegativesRankingLoss each positive may carry a *hard negative*: a detracted partner of the
anchor (``detracted``), an anime the base encoder finds close to the anchor whose fans do not
co-like it (``mined``), or an anime few of the users rated (``rare``: teaches what a niche title
reads like, which items nobody has rated yet need).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict

import numpy as np

from animerec.data.ratings import Ratings
from animerec.errors import AnimerecError
from animerec.finetune.negatives import (
    add_detracted_negatives,
    add_mined_negatives,
    detracted_partners,
    random_negatives,
)
from animerec.finetune.neighbours import neighbour_pairs, similarity, top_neighbours
from animerec.finetune.settings import PairSettings
from animerec.finetune.training_pairs import (
    TrainingPairs,
    cap_pairs,
    concat_pairs,
    pair_rows,
    raters,
    users_ratings,
)
from animerec.labels import LabelSettings, pair_labels

__all__ = ["book_pairs", "build_pairs"]


def book_pairs(
    ratings: Ratings, users: np.ndarray, s: PairSettings, balance: bool | None = None
) -> TrainingPairs:
    """The book's labelled pairs of the ``train`` label split (``val`` is kept for evaluation).

    ``balance`` (default ``s.balance``) keeps as many positives as negatives.
    """
    labels = pair_labels(ratings, users, LabelSettings(s.min_corated, s.threshold, seed=s.seed))
    train = labels[(labels["split"] == "train") & (labels["label"] != 0)]
    pos = train[train["label"] > 0]
    neg = train[train["label"] < 0]
    rng = np.random.default_rng([s.seed, 1])
    if s.balance if balance is None else balance:
        n = min(len(pos), len(neg))
        pos = pos.iloc[np.sort(rng.choice(len(pos), n, replace=False))]
        neg = neg.iloc[np.sort(rng.choice(len(neg), n, replace=False))]
    out = concat_pairs(
        [
            pair_rows(pos["anime_a"].to_numpy(), pos["anime_b"].to_numpy(), np.ones(len(pos))),
            pair_rows(neg["anime_a"].to_numpy(), neg["anime_b"].to_numpy(),
                  np.full(len(neg), s.negative_target)),
        ]
    )  # fmt: skip
    out.info.update(labelled_pairs=len(train), labelled_positive=int((train["label"] > 0).sum()))
    return out


def build_pairs(
    ratings: Ratings,
    users: np.ndarray,
    settings: PairSettings | None = None,
    *,
    for_loss: str = "mnrl",
    base_vectors: tuple[np.ndarray, np.ndarray]
    | Callable[[], tuple[np.ndarray, np.ndarray]]
    | None = None,
) -> TrainingPairs:
    """Training rows for ``for_loss`` from the ratings of ``users`` only.

    ``mnrl`` keeps positives (with hard negatives if asked); ``cosine``/``cosent`` also keep
    negatives (the book's detracted pairs, or random pairs for the neighbour recipes).
    ``base_vectors`` — ``(anime ids, unit vectors)`` of the base encoder over the anime negatives
    may be drawn from (the catalog), or a function returning them — is needed for
    ``hard_negatives="mined"``.
    """
    s = settings or PairSettings()
    users = np.unique(np.asarray(users, dtype=np.int64))
    r = users_ratings(ratings, users)
    if s.recipe == "book":
        # MNRL learns from positives only: balancing would throw most of them away.
        pairs = book_pairs(r, users, s, balance=s.balance and for_loss != "mnrl")
    else:
        scores = similarity(r, s)
        pairs = neighbour_pairs(r, users, s, scores)
        if for_loss != "mnrl":
            pool = np.union1d(pairs.anchor, pairs.other)
            pairs = concat_pairs([pairs, random_negatives(pairs, pool, s.random_negatives, s.seed)])
    if for_loss == "mnrl":
        pairs = pairs.take(np.flatnonzero(pairs.positive))
        if s.hard_negatives == "detracted":
            partners = detracted_partners(r, users, s)
            pool = np.union1d(pairs.anchor, pairs.other)
            pairs = add_detracted_negatives(pairs, partners, pool, s.seed)
        elif s.hard_negatives == "mined":
            if base_vectors is None:
                raise AnimerecError("hard_negatives='mined' needs the base encoder's vectors")
            vectors = base_vectors() if callable(base_vectors) else base_vectors
            known = set(zip(pairs.anchor.tolist(), pairs.other.tolist(), strict=True))
            if s.recipe != "book":  # the teacher's wider neighbourhood is not a negative either
                a, b, _ = top_neighbours(*scores, np.unique(pairs.anchor), s.mined_exclude)
                known |= set(zip(a.tolist(), b.tolist(), strict=True))
            pairs = add_mined_negatives(pairs, vectors, known, s.mined_pool, s.seed)
        elif s.hard_negatives == "rare":
            ids, counts = raters(r)
            pool = ids[counts <= s.rare_max_raters]
            if len(pool) == 0:
                raise AnimerecError(
                    f"hard_negatives='rare': no anime has 1 to {s.rare_max_raters} raters "
                    "among these users (a catalog without a long tail); choose another kind "
                    "of hard negative (--hard-negatives none)"
                )
            pairs = add_detracted_negatives(pairs, {}, pool, s.seed)  # a random one of the pool
    if len(pairs) == 0:
        raise AnimerecError(f"recipe {s.recipe!r} gave no training pairs for loss {for_loss!r}")
    pairs = cap_pairs(pairs, s.max_pairs, s.seed)
    pairs.info.update(recipe=s.recipe, users=len(users), settings=asdict(s))
    return pairs
