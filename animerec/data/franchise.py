"""Franchises: which anime belong together, in what order, and which entries are extras.

A fan who never watched Code Geass should be offered Code Geass, not its R2; one who watched it
should be offered R2 next, and a recap or a music video should not take a slot. This module
groups the catalog into franchises (rules in :mod:`animerec.data.franchise_rules`, described and
measured in ``docs/franchise.md``):

1. titles whose romaji stems are equal join (``Fate/Zero`` = ``Fate/Zero 2nd Season``);
2. titles whose English-name stems are equal join (``Natsume Yuujinchou`` and
   ``Zoku Natsume Yuujinchou`` are both "Natsume's Book of Friends");
3. a stem of two or more words joins the stem it begins with when the two groups share a studio
   (``naruto shippuuden`` with ``naruto``, both Studio Pierrot; ``monster strike`` stays apart
   from Madhouse's ``monster``).

Members are kept in release order (the ``Aired`` start, else the ``Premiered`` season, undated
last); the first story entry is the franchise's main entry. The arrays save as ``.npy`` plus a
JSON file (no pickle) and load back only against the catalog they were built from.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from animerec.data.catalog import Catalog
from animerec.data.franchise_rules import (
    EXTRA_KINDS,
    EntryKind,
    entry_kind,
    japanese_head,
    release_date,
    title_stem,
)
from animerec.errors import DataError
from animerec.workspace import atomic_path, read_json, write_json

__all__ = ["MIN_PREFIX_CHARS", "Franchises"]

MIN_PREFIX_CHARS = 5
"""Rule 3 only joins a stem to a prefix stem with at least this many letters."""

_ARRAYS = ("franchise_of", "order", "offsets", "kind", "released", "series_head", "mainline")
_EXTRA_CODES = np.array(sorted(int(k) for k in EXTRA_KINDS), np.int8)


class _Union:
    """Union-find over catalog positions (path halving, union by smaller root)."""

    def __init__(self, n: int) -> None:
        self.parent = np.arange(n, dtype=np.int64)

    def find(self, i: int) -> int:
        p = self.parent
        while p[i] != i:
            p[i] = p[p[i]]
            i = int(p[i])
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def join(self, members: Iterable[int]) -> None:
        it = iter(members)
        first = next(it, None)
        for m in it:
            self.union(first, m)


def _column(catalog: Catalog, name: str) -> list[object]:
    frame = catalog.frame
    if name not in frame:
        return [None] * len(frame)
    return frame[name].astype("object").where(frame[name].notna(), None).tolist()


def _studios(text: object) -> frozenset[str]:
    if not isinstance(text, str):
        return frozenset()
    return frozenset(s.strip().casefold() for s in text.split(",") if s.strip())


def _buckets(values: Iterable[object], positions: Iterable[int]) -> dict[object, list[int]]:
    out: dict[object, list[int]] = {}
    for v, p in zip(values, positions, strict=True):
        if v:
            out.setdefault(v, []).append(p)
    return out


def _join_by_stems(
    union: _Union,
    stems: list[str],
    english: list[str],
    japanese: list[str],
    studios: list[frozenset[str]],
) -> None:
    """Rules 1–3 of the module docstring over every catalog position."""
    by_stem = _buckets(stems, range(len(stems)))
    for stem, group in by_stem.items():  # rule 1
        if " " in stem:
            union.join(group)
            continue
        # A one-word stem ("hana", "free", "kanon") is also a common word: its titles join only
        # where a studio, an English stem or the Japanese title's first word agrees too.
        keys = [(k, v) for p in group for k, v in _evidence(p, english, japanese, studios)]
        for bucket in _buckets([kv for kv, _ in keys], [p for _, p in keys]).values():
            union.join(bucket)
    long_english = [s if _letters(s) >= MIN_PREFIX_CHARS else "" for s in english]
    for group in _buckets(long_english, range(len(english))).values():  # rule 2
        union.join(group)
    stem_studios = {s: frozenset().union(*(studios[p] for p in g)) for s, g in by_stem.items()}
    for stem, group in by_stem.items():  # rule 3
        words = stem.split()
        for k in range(len(words) - 1, 0, -1):
            prefix = " ".join(words[:k])
            if prefix in by_stem and _letters(prefix) >= MIN_PREFIX_CHARS:
                if stem_studios[stem] & stem_studios[prefix]:
                    union.union(group[0], by_stem[prefix][0])
                break  # the longest present prefix decides; shorter ones would chain


def _evidence(
    pos: int, english: list[str], japanese: list[str], studios: list[frozenset[str]]
) -> Iterable[tuple[tuple[str, str], int]]:
    """``((what, value), pos)`` for each fact a one-word-stem title can share with another."""
    for s in studios[pos]:
        yield ("studio", s), pos
    if english[pos]:
        yield ("english", english[pos]), pos
    if japanese[pos]:
        yield ("japanese", japanese[pos]), pos


def _series_heads(story: np.ndarray, types: list[str], stems: list[str]) -> dict[str, int]:
    """Stem -> head of that series inside one franchise: its first TV entry, else its first
    story entry (members come in release order)."""
    heads: dict[str, int] = {}
    for p in story:
        s = stems[p]
        if s not in heads or (types[p] == "tv" and types[heads[s]] != "tv"):
            heads[s] = int(p)
    return heads


def _letters(text: str) -> int:
    return sum(c.isalnum() for c in text)


def _fingerprint(anime_ids: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(anime_ids, np.int64).tobytes()).hexdigest()[:16]


@dataclass(frozen=True)
class Franchises:
    """Franchise of every catalog position, with members in release order.

    ``order[offsets[f]:offsets[f + 1]]`` are franchise ``f``'s catalog positions, earliest first;
    ``kind[pos]`` is an :class:`~animerec.data.franchise_rules.EntryKind`; ``released[pos]`` is
    the ``yyyymmdd`` release date the order used. The main entry is the first TV series (else the
    first story entry). A **series** is the entries of one franchise that share a title stem
    (Yu-Gi-Oh! and Yu-Gi-Oh! VRAINS are two series of one franchise); ``series_head[pos]`` is
    its first TV entry (else first story entry; -1 for extras only), and ``mainline`` marks the
    series' story entries of its head's type — the seasons watched in order — while films, OVAs
    and side stories only need the head first.
    """

    franchise_of: np.ndarray  # int32 [n]
    order: np.ndarray  # int32 [n]
    offsets: np.ndarray  # int64 [n_franchises + 1]
    kind: np.ndarray  # int8 [n]
    released: np.ndarray  # int32 [n]
    series_head: np.ndarray  # int32 [n]: head of the entry's series, -1 when it has no story
    mainline: np.ndarray  # bool [n]: a story entry of its series head's type (the TV seasons)
    keys: tuple[str, ...]  # [n_franchises]: the main entry's stem, shown in reasons
    catalog_fingerprint: str

    @classmethod
    def build(cls, catalog: Catalog) -> Franchises:
        """Group ``catalog`` by the three rules of this module (about a second for 17k titles)."""
        n = len(catalog)
        names = _column(catalog, "name")
        stems = [title_stem(t) for t in names]
        union = _Union(n)
        _join_by_stems(
            union,
            stems,
            [title_stem(t) for t in _column(catalog, "english_name")],
            [japanese_head(t) for t in _column(catalog, "japanese_name")],
            [_studios(s) for s in _column(catalog, "studios")],
        )
        aired, premiered = _column(catalog, "aired"), _column(catalog, "premiered")
        released = np.fromiter(
            (release_date(a, p) for a, p in zip(aired, premiered, strict=True)), np.int64, n
        )
        types = [str(t or "").strip().casefold() for t in _column(catalog, "type")]
        kind = np.fromiter(
            (entry_kind(t, k) for t, k in zip(names, types, strict=True)), np.int8, n
        )
        roots = np.fromiter((union.find(i) for i in range(n)), np.int64, n)
        order = np.lexsort((catalog.anime_ids, released, roots))
        sorted_roots = roots[order]
        starts = np.flatnonzero(np.r_[True, sorted_roots[1:] != sorted_roots[:-1]]) if n else []
        offsets = np.r_[starts, n].astype(np.int64)
        franchise_of = np.empty(n, np.int32)
        mainline = np.zeros(n, bool)
        series_head = np.full(n, -1, np.int32)
        keys = []
        for f in range(len(offsets) - 1):
            members = order[offsets[f] : offsets[f + 1]]
            franchise_of[members] = f
            story = members[~np.isin(kind[members], _EXTRA_CODES)]
            tv = [p for p in story if types[p] == "tv"]
            head = int(tv[0]) if tv else int(story[0]) if len(story) else int(members[0])
            if len(story):
                kind[head] = EntryKind.MAIN
            heads = _series_heads(story, types, stems)
            for p in members:
                h = heads.get(stems[p], -1)
                series_head[p] = h
                mainline[p] = h >= 0 and int(kind[p]) not in EXTRA_KINDS and types[p] == types[h]
            keys.append(stems[head] or str(names[head] or ""))
        return cls(
            franchise_of=franchise_of,
            order=order.astype(np.int32),
            offsets=offsets,
            kind=kind,
            released=released.astype(np.int32),
            series_head=series_head,
            mainline=mainline,
            keys=tuple(keys),
            catalog_fingerprint=_fingerprint(catalog.anime_ids),
        )

    # --- queries ----------------------------------------------------------------------------

    def __len__(self) -> int:
        """The number of franchises (singletons included)."""
        return len(self.offsets) - 1

    def members(self, franchise: int) -> np.ndarray:
        """Catalog positions of ``franchise``, in release order."""
        return self.order[self.offsets[franchise] : self.offsets[franchise + 1]]

    def size(self, franchise: int) -> int:
        return int(self.offsets[franchise + 1] - self.offsets[franchise])

    def is_extra(self, pos: int) -> bool:
        """Is the title at ``pos`` a recap, music video or special (never a list's entry point)?"""
        return int(self.kind[pos]) in EXTRA_KINDS

    @property
    def extra_mask(self) -> np.ndarray:
        """``bool [n]``: :meth:`is_extra` for every position."""
        return np.isin(self.kind, _EXTRA_CODES)

    def main_entry(self, franchise: int) -> int:
        """The franchise's main entry (-1 when it holds extras only)."""
        m = self.members(franchise)
        main = m[self.kind[m] == EntryKind.MAIN]
        return int(main[0]) if len(main) else -1

    @cached_property
    def story_mask(self) -> np.ndarray:
        """``bool [n]``: story entries (not recaps, music videos, specials)."""
        return ~np.isin(self.kind, _EXTRA_CODES)

    @cached_property
    def story_sizes(self) -> np.ndarray:
        """Story entries per franchise (one vector operation, for the per-request counts)."""
        f = self.franchise_of[self.story_mask]
        return np.bincount(f, minlength=len(self.offsets) - 1)

    def unwatched_story(self, franchise: int, watched: set[int]) -> int:
        """Story entries of ``franchise`` not in ``watched`` (catalog positions)."""
        mine = sum(1 for p in watched if self.franchise_of[p] == franchise and self.story_mask[p])
        return int(self.story_sizes[franchise]) - mine

    def story(self, franchise: int) -> np.ndarray:
        """The story entries in watching order: the main entry, the rest of its series' line,
        then the other story entries (films, OVAs, other series), each part in release order."""
        m = self.members(franchise)
        story = m[~np.isin(self.kind[m], _EXTRA_CODES)]
        is_main = self.kind[story] == EntryKind.MAIN
        if not is_main.any():
            return story
        line = ~is_main & self.mainline[story] & (self.series_head[story] == story[is_main][0])
        return np.concatenate([story[is_main], story[line], story[~is_main & ~line]])

    def earliest_unwatched(self, franchise: int, watched_positions: Iterable[int]) -> int:
        """The first story entry of ``franchise``, in :meth:`story` order, not in
        ``watched_positions`` (-1: all seen)."""
        seen = {int(p) for p in watched_positions}
        return next((int(p) for p in self.story(franchise) if int(p) not in seen), -1)

    def entry_point(self, pos: int, watched_positions: Iterable[int]) -> int:
        """What to offer instead of ``pos``: the head of its series while unwatched, else the
        series' earliest unwatched main-line entry released before ``pos``, else ``pos`` itself
        (Code Geass before R2; R2 once Code Geass is watched; a 2019 film once R2 is;
        Yu-Gi-Oh! VRAINS, a series of its own, needs no older Yu-Gi-Oh!)."""
        pos = int(pos)
        head = int(self.series_head[pos])
        if head < 0 or head == pos:
            return pos
        seen = {int(p) for p in watched_positions}
        if head not in seen:
            return head
        for p in self.members(int(self.franchise_of[pos])):
            p = int(p)
            if p == pos or self.released[p] > self.released[pos]:
                break
            if p != head and self.mainline[p] and self.series_head[p] == head and p not in seen:
                return p
        return pos

    # --- files ------------------------------------------------------------------------------

    def save(self, folder: str | os.PathLike[str]) -> None:
        """Write the arrays as ``.npy`` and the keys as ``franchises.json`` into ``folder``
        (replaced in one rename)."""
        with atomic_path(folder) as tmp:
            tmp.mkdir()
            for name in _ARRAYS:
                np.save(tmp / f"{name}.npy", getattr(self, name), allow_pickle=False)
            write_json(
                tmp / "franchises.json",
                {"keys": list(self.keys), "catalog_fingerprint": self.catalog_fingerprint},
            )

    @classmethod
    def load(cls, folder: str | os.PathLike[str], catalog: Catalog) -> Franchises:
        """Read what :meth:`save` wrote; a folder built from another catalog is an error."""
        folder = Path(folder)
        try:
            meta = read_json(folder / "franchises.json")
            arrays = {n: np.load(folder / f"{n}.npy", allow_pickle=False) for n in _ARRAYS}
        except (OSError, ValueError) as exc:
            raise DataError(f"{folder}: cannot read franchises ({exc})") from None
        if meta.get("catalog_fingerprint") != _fingerprint(catalog.anime_ids):
            raise DataError(f"{folder}: franchises were built from another catalog; rebuild them")
        if (
            len(arrays["franchise_of"]) != len(catalog)
            or len(meta["keys"]) != len(arrays["offsets"]) - 1
        ):
            raise DataError(f"{folder}: franchise arrays do not match the catalog's size")
        return cls(
            keys=tuple(meta["keys"]), catalog_fingerprint=meta["catalog_fingerprint"], **arrays
        )
