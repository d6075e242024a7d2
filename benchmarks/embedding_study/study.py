"""The study's data: the DEV protocol split, the cold-start and k-fold partitions, and labels.

A LABEL is a configuration name (a fine-tuned model) or ``base@N`` (MiniLM as shipped, at
max_seq_length N), or ``mpnet@N``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from animerec.data.catalog import Catalog
from animerec.data.ratings import Ratings
from animerec.data.split import SEED, Split, protocol_split, validation_split
from animerec.finetune.run import read_manifest
from animerec.workspace import Workspace

COLD_SEED = 7


VAL_COLD_SEED = 8


COLD_FRAC = 0.1


FOLDS = 10


FOLD_SEED = 9
"""The k-fold cold-start test: the catalog split into ``FOLDS`` seeded parts, each in turn new."""


# --- data ----------------------------------------------------------------------------------------
class Study:
    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.ratings = Ratings.read(ws.ratings)
        self.catalog = Catalog.read(ws.anime)
        self.split = protocol_split(self.ratings, seed=SEED)
        self.out = ws.sub("study")

    # users and ratings a configuration trains on
    def training_data(self, users: str) -> tuple[Ratings, np.ndarray]:
        if users == "train":
            return self.ratings, self.split.train_users
        if users == "select":
            return self.ratings, self.selection_split().train_users
        if users == "cold":
            keep = ~np.isin(self.ratings.anime_id, self.cold_items())
            return self.ratings.take(keep), self.split.train_users
        if users == "vcold":
            gone = np.union1d(self.cold_items(), self.val_cold_items())
            keep = ~np.isin(self.ratings.anime_id, gone)
            return self.ratings.take(keep), self.val_cold_split().train_users
        if users.startswith("fold"):
            keep = ~np.isin(self.ratings.anime_id, self.fold_items(int(users[4:])))
            return self.ratings.take(keep), self.split.train_users
        raise ValueError(users)

    def selection_split(self) -> Split:
        """The validation split of the training users (what tuning uses; seed 43)."""
        return validation_split(self.split.train)

    def cold_items(self) -> np.ndarray:
        """A seeded 10% of the catalog's anime: all their ratings leave training."""
        ids = self.catalog.anime_ids
        n = round(COLD_FRAC * len(ids))
        return np.sort(np.random.default_rng(COLD_SEED).choice(ids, n, replace=False))

    def val_cold_items(self) -> np.ndarray:
        """Another seeded 10% of the catalog (outside the cold anime): the validation users'
        new anime, so choices about cold start are made without the test users."""
        ids = np.setdiff1d(self.catalog.anime_ids, self.cold_items())
        n = round(COLD_FRAC * len(self.catalog.anime_ids))
        return np.sort(np.random.default_rng(VAL_COLD_SEED).choice(ids, n, replace=False))

    def val_cold_split(self) -> Split:
        """The validation split of the cold split's training users, with every rating of the
        validation-cold anime removed from its training part and from its users' histories."""
        cold_train = self.split.train.take(~np.isin(self.split.train.anime_id, self.cold_items()))
        return _without(validation_split(cold_train), self.val_cold_items())

    def fold_items(self, fold: int) -> np.ndarray:
        """Fold ``fold`` of a seeded partition of the catalog into ``FOLDS`` parts."""
        perm = np.random.default_rng(FOLD_SEED).permutation(self.catalog.anime_ids)
        return np.sort(perm[fold::FOLDS])

    def fold_split(self, fold: int) -> Split:
        """The DEV split without every rating of fold ``fold``'s anime (as :meth:`cold_split`)."""
        return _without(self.split, self.fold_items(fold))

    def cold_split(self) -> Split:
        """The DEV split with every rating of the cold anime removed from training and from the
        test users' histories (their held-out ratings stay: they are the answers)."""
        return _without(self.split, self.cold_items())


def _without(s: Split, cold: np.ndarray) -> Split:
    """``s`` with every rating of ``cold`` removed from training and from the histories (the
    held-out ones stay: they are the answers); users left without a history are dropped."""
    history = s.history.take(~np.isin(s.history.anime_id, cold))
    users = np.intersect1d(s.test_users, history.users)
    heldout = s.heldout.take(np.isin(s.heldout.user_id, users))
    return Split(
        train_users=s.train_users,
        test_users=users,
        train=s.train.take(~np.isin(s.train.anime_id, cold)),
        history=history.take(np.isin(history.user_id, users)),
        heldout=heldout,
    )


def new_anime(split: Split, catalog: Catalog) -> np.ndarray:
    """Ids of the catalog's anime that no training user of ``split`` rated (sorted)."""
    return np.setdiff1d(catalog.anime_ids, np.unique(split.train.anime_id))


def parse_label(label: str) -> tuple[str, int | None]:
    """``base@128`` → (``minilm``, 128); ``mpnet@384``; a fine-tuned name → (name, None)."""
    if "@" in label:
        name, seq = label.split("@", 1)
        return ("minilm" if name == "base" else name), int(seq)
    return label, None


def content_params(study: Study, label: str) -> dict[str, Any]:
    name, seq = parse_label(label)
    return {"embedder": name, "max_seq_length": seq}


def model_manifest(study: Study, label: str) -> dict[str, Any]:
    name, seq = parse_label(label)
    path = study.ws.models_dir / name
    return read_manifest(path) if seq is None and path.exists() else {}


def finetune_summary(study: Study, label: str) -> dict[str, Any] | None:
    """What a result records of how ``label``'s model was trained (None for ``base@N``)."""
    manifest = model_manifest(study, label)
    if not manifest:
        return None
    return {
        k: manifest.get(k) for k in ("steps", "train_s", "wall_s", "validation", "pairs", "recipe")
    }
