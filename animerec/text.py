"""The generated description of each anime, its cleaning, and token-length statistics.

Two variants, selectable by name (:data:`VARIANTS`):

``book``
    The book's template (DESIGN §3) with the book's own cleaning, reproduced exactly so results
    compare: every character outside ``string.printable`` (i.e. all non-ASCII: em-dashes, accents,
    kana) is deleted, and each run of two or more whitespace characters becomes one space. A
    *single* whitespace character is left alone, so the template's line breaks survive and the
    text has one sentence per line — except where a field ends or starts with whitespace, which
    fuses the break into a space, exactly as in the book. Fields MAL lists as ``Unknown`` (null
    in the catalog) are written back as ``Unknown``, the "No synopsis…" placeholder stays, and a
    synopsis missing from the synopsis file (the book dropped those rows) also reads ``Unknown``.

``clean``
    The same sentences, in the same order, one per line, minus what carries no information:
    sentences whose field is missing, and the "No synopsis…" placeholder. Cleaning keeps Unicode
    text (:func:`clean_text`) instead of deleting it, and phrasing is mended where it was wrong or
    vague: ``an OVA``, ``a TV series``, the English title in parentheses when it differs, a final
    period after the genres.

Newlines versus spaces changes no token count for the BERT/MPNet tokenizers used here (both
split on any whitespace); it matters only for display and for :func:`text_hash`.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from animerec.data.catalog import Catalog
from animerec.errors import AnimerecError
from animerec.workspace import atomic_path

VARIANTS = ("book", "clean")
DEFAULT_VARIANT = "clean"
TRUNCATION_LIMITS = (128, 256, 384, 512)

# How MAL words a missing synopsis (both forms occur in the 2020 data; detected by prefix).
PLACEHOLDER_PREFIXES = (
    "No synopsis information has been added to this title",
    "No synopsis has been added for this series yet",
)
UNKNOWN = "Unknown"

# `string.printable` as a regex class: the ASCII printables plus the six ASCII whitespace chars.
_NOT_BOOK_PRINTABLE = r"[^\x20-\x7e\t\n\r\x0b\x0c]"
_WHITESPACE = re.compile(r"\s+")
_SPACES = re.compile(r" {2,}")

_TYPE_PHRASES = {
    "TV": "a TV series",
    "Movie": "a movie",
    "OVA": "an OVA",
    "ONA": "an ONA",
    "Special": "a special",
    "Music": "a music video",
}


class UnknownVariantError(AnimerecError, ValueError):
    """A description variant name that is not in :data:`VARIANTS`."""


def check_variant(variant: str) -> str:
    if variant not in VARIANTS:
        raise UnknownVariantError(
            f"unknown description variant {variant!r}: choose one of {', '.join(VARIANTS)}"
        )
    return variant


# --- cleaning --------------------------------------------------------------------------------


def clean_text(s: str) -> str:
    """Whitespace runs (any Unicode whitespace, newlines too) become one space; characters that do
    not print (controls, zero-width and format characters) are removed; the ends are stripped.

    Unlike the book's cleaning it keeps non-ASCII text, so "travels—Ein" stays two words.
    """
    s = _WHITESPACE.sub(" ", s)
    if not s.isprintable():  # rare: skip the per-character pass for the common case
        s = "".join(ch for ch in s if ch.isprintable())
        s = _SPACES.sub(" ", s)
    return s.strip()


def book_clean_text(s: str) -> str:
    """The book's ``clean_text``: keep only ``string.printable``, collapse 2+ whitespace to a space."""
    s = re.sub(_NOT_BOOK_PRINTABLE, "", s)
    return re.sub(r"\s{2,}", " ", s).strip()


def is_placeholder_synopsis(s: str | None) -> bool:
    return s is not None and s.lstrip().startswith(PLACEHOLDER_PREFIXES)


def text_hash(text: str) -> str:
    """A stable key for one description (first 16 hex digits of its SHA-256), for caches."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


# --- descriptions ----------------------------------------------------------------------------


def _as_frame(data: Catalog | pd.DataFrame | Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    frame = getattr(data, "frame", data)
    return frame if isinstance(frame, pd.DataFrame) else pd.DataFrame(list(frame))


def _field(frame: pd.DataFrame, column: str) -> pd.Series:
    """Column ``column`` as ``str`` values, ``None`` where missing (null, NaN, blank, ``Unknown``).

    List-like values (genres stored as a list) are joined with ", " as MAL writes them.
    """
    if column not in frame.columns:
        raise AnimerecError(f"catalog has no column {column!r} (columns: {list(frame.columns)})")

    def one(v: Any) -> str | None:
        if isinstance(v, (list, tuple, np.ndarray)):
            v = ", ".join(str(x) for x in v)
        elif v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
            return None
        v = str(v)
        return None if not v.strip() or v.strip() == UNKNOWN else v

    return pd.Series([one(v) for v in frame[column].tolist()], index=frame.index, dtype=object)


def describe(
    data: Catalog | pd.DataFrame | Sequence[Mapping[str, Any]], variant: str = DEFAULT_VARIANT
) -> list[str]:
    """The description of every anime in ``data``, in its row order (= catalog positions)."""
    check_variant(variant)
    frame = _as_frame(data)
    if len(frame) == 0:
        return []
    return _describe_book(frame) if variant == "book" else _describe_clean(frame)


def describe_one(row: pd.Series | Mapping[str, Any], variant: str = DEFAULT_VARIANT) -> str:
    """The description of one catalog row (a ``Catalog.row`` or a dict with the same keys)."""
    return describe(pd.DataFrame([dict(row)]), variant)[0]


def _describe_book(frame: pd.DataFrame) -> list[str]:
    def col(name: str) -> pd.Series:
        return _field(frame, name).fillna(UNKNOWN).astype(str)

    kind = col("type")
    kind = kind.where(kind != "TV", "TV Show")
    text = (
        col("name")
        + " is a "
        + kind
        + ".\nSynopsis: "
        + col("synopsis")
        + "\nIt was produced by "
        + col("producers")
        + " and it is from "
        + col("studios")
        + " Studio.\nIts source is "
        + col("source")
        + ".\nIt premiered in "
        + col("premiered")
        + ".\nIts genres are "
        + col("genres")
        + "\n"
    )
    text = text.str.replace(_NOT_BOOK_PRINTABLE, "", regex=True)
    return text.str.replace(r"\s{2,}", " ", regex=True).str.strip().tolist()


def _describe_clean(frame: pd.DataFrame) -> list[str]:
    def col(name: str) -> list[str | None]:
        cleaned = (None if v is None else clean_text(v) or None for v in _field(frame, name))
        return list(cleaned)

    rows = zip(
        col("name"),
        col("english_name"),
        col("type"),
        col("synopsis"),
        col("producers"),
        col("studios"),
        col("source"),
        col("premiered"),
        col("genres"),
        strict=True,
    )
    return ["\n".join(_clean_sentences(*r)) for r in rows]


def _clean_sentences(
    name: str | None,
    english: str | None,
    kind: str | None,
    synopsis: str | None,
    producers: str | None,
    studios: str | None,
    source: str | None,
    premiered: str | None,
    genres: str | None,
) -> Iterable[str]:
    title = name or english or UNKNOWN
    if name and english and english.casefold() != name.casefold():
        title = f"{name} ({english})"
    if kind is None:
        phrase = "an anime"
    else:
        phrase = _TYPE_PHRASES.get(kind) or f"{'an' if kind[0] in 'AEIOUaeiou' else 'a'} {kind}"
    yield f"{title} is {phrase}."
    if synopsis and not is_placeholder_synopsis(synopsis):
        yield f"Synopsis: {synopsis}"
    if producers and studios:
        yield f"It was produced by {producers} and it is from {studios} Studio."
    elif producers:
        yield f"It was produced by {producers}."
    elif studios:
        yield f"It is from {studios} Studio."
    if source:
        yield f"Its source is {source}."
    if premiered:
        yield f"It premiered in {premiered}."
    if genres:
        verb = "genres are" if "," in genres else "genre is"
        yield f"Its {verb} {genres.rstrip('.')}."


# --- token lengths ---------------------------------------------------------------------------


def token_lengths(texts: Sequence[str], tokenizer: Any, batch_size: int = 1024) -> np.ndarray:
    """Token count of each text as the model would see it untruncated: special tokens included."""
    texts = list(texts)
    out = np.zeros(len(texts), dtype=np.int64)
    for start in range(0, len(texts), batch_size):
        enc = tokenizer(
            texts[start : start + batch_size],
            add_special_tokens=True,
            truncation=False,
            padding=False,
            return_attention_mask=False,
            return_token_type_ids=False,
            verbose=False,  # no "longer than the maximum" warning: long texts are the point
        )
        out[start : start + batch_size] = [len(ids) for ids in enc["input_ids"]]
    return out


def length_stats(lengths: np.ndarray) -> dict[str, float]:
    """min / p50 / p90 / p95 / p99 / max / mean of token lengths (and their number ``n``)."""
    x = np.asarray(lengths, dtype=np.float64)
    if x.size == 0:
        raise ValueError("no token lengths to summarise")
    p50, p90, p95, p99 = np.percentile(x, [50, 90, 95, 99])
    return {
        "n": int(x.size),
        "min": float(x.min()),
        "p50": float(p50),
        "p90": float(p90),
        "p95": float(p95),
        "p99": float(p99),
        "max": float(x.max()),
        "mean": float(x.mean()),
    }


def truncation_shares(
    lengths: np.ndarray, limits: Sequence[int] = TRUNCATION_LIMITS
) -> dict[int, float]:
    """Share of texts longer than each ``max_seq_length`` limit (those the model would truncate)."""
    x = np.asarray(lengths)
    if x.size == 0:
        raise ValueError("no token lengths to summarise")
    return {int(limit): float(np.mean(x > limit)) for limit in limits}


def plot_token_histogram(
    lengths: np.ndarray,
    path: str | os.PathLike[str],
    limits: Sequence[int] = TRUNCATION_LIMITS,
    title: str | None = None,
) -> Path:
    """Save a histogram of token lengths with a dashed line (and truncated share) at each limit."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    x = np.asarray(lengths)
    shares = truncation_shares(x, limits)
    fig = Figure(figsize=(8, 4.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    top = max(int(x.max()), max(limits)) + 1
    ax.hist(x, bins=np.linspace(0, top, 81), color="#4c72b0", alpha=0.85)
    for i, limit in enumerate(limits):
        ax.axvline(limit, color=f"C{i + 1}", linestyle="--", linewidth=1.2)
        ax.text(
            limit,
            0.97 - 0.07 * i,
            f" {limit}: {shares[int(limit)]:.1%} cut",
            transform=ax.get_xaxis_transform(),
            color=f"C{i + 1}",
            fontsize=8,
            va="top",
        )
    ax.set_xlabel("tokens per description (special tokens included)")
    ax.set_ylabel("anime")
    ax.set_title(title or f"Token lengths of {x.size} descriptions")
    fig.tight_layout()
    target = Path(path)
    with atomic_path(target) as tmp:
        fig.savefig(tmp, format="png")
    return target
