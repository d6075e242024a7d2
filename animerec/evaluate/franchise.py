"""A title-prefix proxy for "same franchise", so sequel hits can be told apart from discoveries.

Many hits are the next season of something already in the history; a model that only finds
sequels looks good on HR/NDCG yet tells the user little. MAL has no franchise column, so the
proxy works on the romaji titles:

1. normalise: NFKD → ASCII, lower case, every run of non-alphanumerics → one space;
   everything from the first ``": "`` on is dropped first (``Cowboy Bebop: Tengoku no Tobira`` →
   ``cowboy bebop``) unless that leaves under 4 characters;
2. trailing sequel markers are dropped (``season``, ``2nd``, ``ii``, ``movie``, ``ova``, digits…);
3. two titles share a franchise when one key equals the other or is a whole-word prefix of it,
   the shorter key having ≥ 4 characters (``naruto`` ~ ``naruto shippuuden``; ``k`` is too short
   to match ``k on``).

It misses renamed sequels (``Bakemonogatari`` / ``Nisemonogatari``) and can join unrelated titles
that begin with the same words (``Monster`` / ``Monster Strike``); it is a proxy for reporting.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

import numpy as np

MIN_KEY_CHARS = 4

_SEQUEL_WORDS = frozenset(
    [
        "season",
        "seasons",
        "part",
        "cour",
        "movie",
        "movies",
        "film",
        "the",
        "ova",
        "ona",
        "special",
        "specials",
        "tv",
        "final",
        "series",
        "second",
        "third",
        "fourth",
        "fifth",
        "sixth",
        "ii",
        "iii",
        "iv",
        "v",
        "vi",
        "vii",
        "viii",
        "ix",
        "x",
        "1st",
        "2nd",
        "3rd",
        "4th",
        "5th",
        "6th",
        "7th",
        "8th",
        "9th",
        "10th",
    ]
)
_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def franchise_key(title: object) -> str:
    """The normalised, sequel-stripped stem of a title (``""`` for a missing title)."""
    if not isinstance(title, str) or not title:
        return ""
    t = unicodedata.normalize("NFKD", str(title)).encode("ascii", "ignore").decode().lower()
    stem = t.split(": ", 1)[0]
    if len(stem.strip()) >= MIN_KEY_CHARS:  # "Re:Zero…" keeps its whole title
        t = stem
    words = _NON_ALNUM.sub(" ", t).split()
    while len(words) > 1 and (words[-1] in _SEQUEL_WORDS or words[-1].isdigit()):
        words.pop()
    return " ".join(words)


def _word_prefixes(key: str) -> list[str]:
    """Whole-word prefixes of ``key`` (itself included) long enough to count."""
    words = key.split()
    out = [" ".join(words[:i]) for i in range(1, len(words) + 1)]
    return [p for p in out if len(p) >= MIN_KEY_CHARS]


class FranchiseIndex:
    """Franchise keys of a whole catalog, and the test "does this title share a franchise with a history"."""

    def __init__(self, names: Sequence[str | None]) -> None:
        self.keys = [franchise_key(n) for n in names]

    def history_sets(self, positions: np.ndarray) -> tuple[set[str], set[str]]:
        """(keys, all word-prefixes of keys) of the titles at catalog ``positions``."""
        keys = {self.keys[p] for p in positions if p >= 0 and self.keys[p]}
        prefixes = {pre for k in keys for pre in _word_prefixes(k)}
        return keys, prefixes

    def shares(self, position: int, history: tuple[set[str], set[str]]) -> bool:
        """Does the title at ``position`` share a franchise with a history's :meth:`history_sets`?"""
        key = self.keys[position]
        if len(key) < MIN_KEY_CHARS:
            return bool(key) and key in history[0]
        keys, prefixes = history
        # equal, or this key is a word-prefix of a history key, or a history key is a prefix of it
        return key in prefixes or any(p in keys for p in _word_prefixes(key))

    def share_matrix(
        self, rec_positions: np.ndarray, history_positions: Sequence[np.ndarray]
    ) -> np.ndarray:
        """``bool [n_users, k]``: recommended item shares a franchise with that user's history."""
        out = np.zeros(rec_positions.shape, dtype=bool)
        for i, hist in enumerate(history_positions):
            sets = self.history_sets(hist)
            for j, p in enumerate(rec_positions[i]):
                if p >= 0:
                    out[i, j] = self.shares(int(p), sets)
        return out
