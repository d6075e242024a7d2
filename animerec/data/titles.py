"""Find anime by title: people type "steins gate" or "Attack on Titan", not MAL ids.

Titles are matched over the romaji ``name``, the ``english_name`` and the ``japanese_name``
("カウボーイビバップ" finds Cowboy Bebop), after folding case, accents, full/half width and
punctuation ("Steins;Gate" = "steins gate" = "SteinsGate"; Japanese keeps its voicing marks, so
ビ stays apart from ヒ). Suggestions never include adult (Rx) titles unless asked to
(``include_adult=True``); an exact name still resolves, since whoever types it watched it. :meth:`TitleIndex.resolve`
accepts only such exact matches — a typo should not silently pick another show — and otherwise
raises :class:`~animerec.errors.UnknownTitleError` listing the closest titles, which
:meth:`TitleIndex.search` ranks: exact matches, then prefixes, then rapidfuzz similarity, ties
going to the more popular anime.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz, process

from animerec.data.catalog import Catalog
from animerec.data.content_rating import adult_mask
from animerec.errors import UnknownTitleError

__all__ = ["EXACT", "MIN_FUZZY", "PREFIX", "TitleIndex", "TitleMatch", "normalize_title"]

_NON_WORD = re.compile(r"[\W_]+")

EXACT, PREFIX = 100.0, 95.0
"""Search scores of an exact and of a prefix match (fuzzy scores are capped just below)."""
MIN_FUZZY = 60.0
"""Fuzzy similarity (0–100) below which a title is not listed at all."""


_LATIN_END = "\u0250"
"""Characters below this are Latin (ASCII, Latin-1, Extended-A/B): their accents are dropped."""


def normalize_title(text: str) -> str:
    """Lower case, Latin accents dropped, punctuation to single spaces: the form titles are
    compared in. Other scripts keep their combining marks (katakana ビ is not ヒ)."""
    out, latin = [], False
    for ch in unicodedata.normalize("NFKD", str(text)).casefold():
        if unicodedata.combining(ch):
            if latin:
                continue
        else:
            latin = ch < _LATIN_END
        out.append(ch)
    return _NON_WORD.sub(" ", unicodedata.normalize("NFC", "".join(out))).strip()


@dataclass(frozen=True)
class TitleMatch:
    anime_id: int
    title: str
    """The catalog name (romaji), which is what reasons and tables show."""
    score: float
    """100 exact, 95 prefix, below that rapidfuzz similarity (0–100)."""
    matched: str
    """The title (name, English or Japanese name) the query matched."""


class TitleIndex:
    """Every name, English and Japanese name of a catalog, normalised once for fast lookups."""

    def __init__(self, catalog: Catalog) -> None:
        frame = catalog.frame
        ids = catalog.anime_ids
        names = frame["name"].astype("string").fillna("").to_numpy(dtype=object)
        english, japanese = (
            frame[c].astype("string").fillna("").to_numpy(dtype=object)
            if c in frame
            else np.full(len(frame), "", dtype=object)
            for c in ("english_name", "japanese_name")
        )
        pop = (
            frame["popularity"].to_numpy(dtype=np.float64, na_value=np.nan)
            if "popularity" in frame
            else np.full(len(frame), np.nan)
        )
        # MAL popularity is a rank (1 = most members); 0 or missing means unranked.
        pop = np.where(np.isfinite(pop) & (pop > 0), pop, np.inf)

        entry_row, entry_text, entry_kind = [], [], []
        for row, (n, e, j) in enumerate(zip(names, english, japanese, strict=True)):
            for kind, text in ((0, n), (1, e), (2, j)):
                if text and (kind == 0 or normalize_title(text) != normalize_title(n)):
                    entry_row.append(row)
                    entry_text.append(str(text))
                    entry_kind.append(kind)
        self.catalog = catalog
        self._adult = adult_mask(catalog)
        self._ids = ids
        self._names = names
        self._pop = pop
        self._row = np.asarray(entry_row, dtype=np.int64)
        self._text = entry_text
        self._kind = np.asarray(entry_kind, dtype=np.int8)
        self._norm = [normalize_title(t) for t in entry_text]
        self._compact = [n.replace(" ", "") for n in self._norm]
        self._len = np.fromiter((len(n) for n in self._norm), np.int64, len(self._norm))
        self._exact: dict[str, list[int]] = {}
        for i, (n, c) in enumerate(zip(self._norm, self._compact, strict=True)):
            for key in {n, c}:
                if key:
                    self._exact.setdefault(key, []).append(i)

    def __len__(self) -> int:
        return len(self._text)

    def _order(self, entries: list[int]) -> list[int]:
        """Entries best first: non-adult anime first, romaji names before English and Japanese
        ones, then the more popular anime."""
        return sorted(
            entries,
            key=lambda i: (
                self._adult[self._row[i]],
                self._kind[i],
                self._pop[self._row[i]],
                self._row[i],
            ),
        )

    def _allowed(self, entries: list[int] | np.ndarray, include_adult: bool) -> list[int]:
        if include_adult:
            return list(entries)
        return [int(i) for i in entries if not self._adult[self._row[i]]]

    def _match(self, entry: int, score: float) -> TitleMatch:
        row = int(self._row[entry])
        return TitleMatch(int(self._ids[row]), str(self._names[row]), score, self._text[entry])

    def exact(self, query: str, *, include_adult: bool = False) -> list[TitleMatch]:
        """Anime whose name, English or Japanese name equals ``query`` once normalised, best
        first (adult titles only with ``include_adult``)."""
        q = normalize_title(query)
        hits = self._exact.get(q, []) + self._exact.get(q.replace(" ", ""), [])
        hits = self._allowed(list(dict.fromkeys(hits)), include_adult)
        return self._dedupe([self._match(i, EXACT) for i in self._order(hits)])

    def search(
        self, query: str, limit: int = 10, *, include_adult: bool = False
    ) -> list[TitleMatch]:
        """The ``limit`` best matches of ``query``, one per anime, best first; adult (Rx) titles
        only with ``include_adult``. An empty list means no title matches."""
        q = normalize_title(query)
        if not q or limit < 1:
            return []
        found = self.exact(query, include_adult=include_adult)
        prefix = [i for i, n in enumerate(self._norm) if n.startswith(q) and n != q]
        found += [self._match(i, PREFIX) for i in self._order(self._allowed(prefix, include_adult))]
        # Fuzzy: plain similarity, or token-set similarity (a query whose words all occur in a
        # longer title: "bebop" in "cowboy bebop") scaled by 0.9 as rapidfuzz's WRatio does — but
        # only for titles at least as long as the query, so "Pop" is no match for "cowbboy bepop".
        # One vectorised pass each over every title.
        plain = process.cdist([q], self._norm, scorer=fuzz.QRatio, dtype=np.float32)[0]
        words = process.cdist([q], self._norm, scorer=fuzz.token_set_ratio, dtype=np.float32)[0]
        score = np.maximum(plain, np.where(self._len >= len(q), 0.9 * words, 0))
        cand = np.flatnonzero(score >= MIN_FUZZY)
        if not include_adult:
            cand = cand[~self._adult[self._row[cand]]]
        cand = cand[
            np.lexsort((self._row[cand], self._pop[self._row[cand]], -np.round(score[cand], 1)))
        ]
        found += [
            self._match(int(i), min(float(score[i]), PREFIX - 0.1)) for i in cand[: 4 * limit]
        ]
        return self._dedupe(found)[:limit]

    @staticmethod
    def _dedupe(matches: list[TitleMatch]) -> list[TitleMatch]:
        seen: set[int] = set()
        out = []
        for m in matches:
            if m.anime_id not in seen:
                seen.add(m.anime_id)
                out.append(m)
        return out

    def resolve(self, title: str, *, suggestions: int = 5, include_adult: bool = False) -> int:
        """The anime id whose name, English or Japanese name is ``title`` (case, accents and
        punctuation aside); several such anime resolve to the most popular non-adult one. An
        exact adult title resolves too (whoever names it watched it). Anything else raises
        :class:`UnknownTitleError` naming up to ``suggestions`` close matches, adult titles
        among them only with ``include_adult``."""
        hits = self.exact(title, include_adult=True)
        if hits:
            return hits[0].anime_id
        close = self.search(title, suggestions, include_adult=include_adult)
        listed = ", ".join(f"{m.title} ({m.anime_id})" for m in close)
        hint = f"; did you mean: {listed}" if close else "; no title is close to it"
        raise UnknownTitleError(f"no anime matches {title!r}{hint}")

    def resolve_all(self, titles: list[str]) -> list[int]:
        """Ids of several titles; the error names the first title that matches nothing."""
        return [self.resolve(t) for t in titles]
