"""The title rules franchises are built from: a title's stem, an entry's kind, its release date.

MAL has no franchise column (and the 2020 files no ``Related`` one), so everything here reads
the names, types and dates. ``docs/franchise.md`` states the rules in words and their measured
precision; :mod:`animerec.data.franchise` joins titles with them.
"""

from __future__ import annotations

import enum
import re
import unicodedata

__all__ = [
    "EXTRA_KINDS",
    "UNKNOWN_DATE",
    "EntryKind",
    "entry_kind",
    "japanese_head",
    "release_date",
    "title_stem",
]

MIN_CUT_CHARS = 4
"""A title is cut at its first ``:`` / `` - `` only when what stays has this many letters
(``Re:Zero…`` and ``K: Return of Kings`` keep their whole titles)."""


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


_PARENS = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_CUT = re.compile(r":| - | ~|~ ")
_NON_ALNUM = re.compile(r"[^0-9a-z]+")

# Words dropped from the end of a stem, repeatedly: season / sequel / format markers (Japanese
# numerals from three on: "Natsume Yuujinchou San" is season 3; "ni" is too common a particle).
_TRAILING = _wordset(
    """season seasons part cour movie movies film the ova oad ona special specials tv final series
    second third fourth fifth sixth seventh r r2 r3 ii iii iv v vi vii viii ix xi xii 1st 2nd 3rd
    4th 5th 6th 7th 8th 9th 10th recap recaps picture drama dramas omake edition shin gekijouban
    gekijou ban soushuuhen kanketsu hen motion picture san shi yon go roku nana hachi"""
)
# Words dropped from the start: "Gekijouban X" (the film of X), "Zoku X" (more X), "Shin X".
_LEADING = _wordset("gekijouban gekijou ban eiga zoku shin the")


def _ascii_words(text: str) -> list[str]:
    t = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return _NON_ALNUM.sub(" ", t).split()


def title_stem(title: object) -> str:
    """The franchise stem of a title: ASCII lower case, bracketed parts dropped, cut at the first
    ``:`` or `` - `` (when 4+ letters stay), then season / sequel / format words and numbers
    stripped from both ends (``"Code Geass: Hangyaku no Lelouch R2"`` -> ``"code geass"``,
    ``"Fate/Zero 2nd Season"`` -> ``"fate zero"``). ``""`` for a missing title."""
    if not isinstance(title, str) or not title.strip():
        return ""
    t = _PARENS.sub(" ", title)
    m = _CUT.search(t)
    if m is not None:
        head = _ascii_words(t[: m.start()])
        if sum(len(w) for w in head) >= MIN_CUT_CHARS:
            t = t[: m.start()]
    words = _ascii_words(t)
    while len(words) > 1 and (words[-1] in _TRAILING or words[-1].isdigit()):
        words.pop()
    while len(words) > 1 and words[0] in _LEADING:
        words.pop(0)
    return " ".join(words)


_JA_CUT = re.compile(r"[\s:：\-－~〜～!！?？・/()（）「」『』【】]")
_JA_TRAIL = re.compile(r"[0-9０-９ⅠⅡⅢⅣⅤ第期季]+$")


def japanese_head(title: object) -> str:
    """The first word of a Japanese title (NFKC, cut at the first space or punctuation, trailing
    numbers dropped): ``"カウボーイビバップ 天国の扉"`` -> ``"カウボーイビバップ"``. Entries of
    one franchise share it even where their romaji stems are a common word."""
    if not isinstance(title, str):
        return ""
    t = unicodedata.normalize("NFKC", title).strip().removeprefix("劇場版").strip()
    head = _JA_TRAIL.sub("", _JA_CUT.split(t, 1)[0]) if t else ""
    return head if len(head) >= 2 else ""


class EntryKind(enum.IntEnum):
    """What an entry is within its franchise (stored as ``int8``)."""

    MAIN = 0
    """The first story entry (TV, movie, OVA, ONA) in release order."""
    SEQUEL = 1
    """A later story entry: next season, sequel film, side story."""
    RECAP = 2
    """A recap or compilation of episodes already shown."""
    MUSIC_VIDEO = 3
    """MAL type ``Music``, or a title naming a PV / music clip."""
    SPECIAL = 4
    """MAL type ``Special`` and short extras (picture dramas, omake, mini theatres, CMs)."""


EXTRA_KINDS = frozenset({EntryKind.RECAP, EntryKind.MUSIC_VIDEO, EntryKind.SPECIAL})

_RECAP_WORDS = _wordset("recap recaps soushuuhen digest compilation")
_RECAP_PHRASES = ("special edition", "episode 0", "tokubetsu hen")
_MUSIC_WORDS = _wordset("pv mv")
_MUSIC_PHRASES = ("music video", "music clip", "character song")
_SPECIAL_WORDS = _wordset(
    """specials special picture drama omake mini gekijou theater theatre chibi cm cms pilot
    bonus extra extras commercial"""
)


def entry_kind(name: object, mal_type: object) -> EntryKind:
    """The kind of an entry from its MAL type and title words (``MAIN`` vs ``SEQUEL`` is decided
    later, by release order inside the franchise; this returns ``SEQUEL`` for story entries)."""
    words = _ascii_words(name) if isinstance(name, str) else []
    text = " ".join(words)
    kind = str(mal_type or "").strip().casefold()
    if kind == "music" or _MUSIC_WORDS & set(words) or any(p in text for p in _MUSIC_PHRASES):
        return EntryKind.MUSIC_VIDEO
    if _RECAP_WORDS & set(words) or any(p in text for p in _RECAP_PHRASES):
        return EntryKind.RECAP
    if kind == "special" or (kind in ("ova", "ona", "") and _SPECIAL_WORDS & set(words)):
        return EntryKind.SPECIAL
    return EntryKind.SEQUEL


UNKNOWN_DATE = 99_999_999
"""The release date of an entry with no known date: after every dated one."""

_MONTHS = {
    m: i
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}
_SEASONS = {"winter": 1, "spring": 4, "summer": 7, "fall": 10}
_DATE = re.compile(r"^\s*(?:([A-Za-z]{3})[a-z]*\.?\s*(?:(\d{1,2}),?)?\s*,?\s*)?(\d{4})\b")
_PREMIERED = re.compile(r"^\s*(winter|spring|summer|fall)\s+(\d{4})\s*$", re.IGNORECASE)


def release_date(aired: object, premiered: object = None) -> int:
    """``yyyymmdd`` of the first airing: the start of MAL's ``Aired`` (``"Apr 3, 1998 to …"``,
    ``"Apr 1998"``, ``"1998"``), else the ``Premiered`` season's first month, else
    :data:`UNKNOWN_DATE`. Missing day or month count as the first."""
    if isinstance(aired, str):
        m = _DATE.match(aired.split(" to ", 1)[0])
        if m is not None:
            month = _MONTHS.get((m.group(1) or "").casefold(), 1)
            day = int(m.group(2)) if m.group(2) else 1
            return int(m.group(3)) * 10_000 + month * 100 + day
    if isinstance(premiered, str):
        m = _PREMIERED.match(premiered)
        if m is not None:
            return int(m.group(2)) * 10_000 + _SEASONS[m.group(1).casefold()] * 100 + 1
    return UNKNOWN_DATE
