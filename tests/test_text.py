"""Generated descriptions (book template and clean variant), cleaning, token-length statistics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from animerec.data.catalog import CATALOG_COLUMNS, Catalog
from animerec.embed.tokenizer import load_tokenizer
from animerec.errors import AnimerecError
from animerec.text import (
    VARIANTS,
    book_clean_text,
    clean_text,
    describe,
    describe_one,
    is_placeholder_synopsis,
    length_stats,
    plot_token_histogram,
    text_hash,
    token_lengths,
    truncation_shares,
)

PLACEHOLDER = (
    "No synopsis information has been added to this title. Help improve our database by adding "
    "a synopsis here."
)


def row(**fields) -> dict:
    """A catalog row: every column null unless given."""
    base = dict.fromkeys(CATALOG_COLUMNS)
    base["anime_id"] = 1
    base.update(fields)
    return base


TV = row(
    anime_id=10,
    name="Space Cats",
    english_name="Space Cats",
    type="TV",
    synopsis="Cats fly — in space.",
    producers="Aniplex, Dentsu",
    studios="Bones",
    source="Manga",
    premiered="Spring 1998",
    genres="Action, Sci-Fi",
)
# A movie with MAL's `Unknown`s (null here), the placeholder synopsis, a bell character, a
# zero-width space and repeated spaces inside fields.
MOVIE = row(
    anime_id=11,
    name="Neko  Movie\x07",
    english_name="The Cat\u200b Movie",
    type="Movie",
    synopsis=PLACEHOLDER,
    producers=None,
    studios="Studio  Pierrot",
    source=None,
    premiered=None,
    genres="Comedy",
)


def frame(*rows: dict) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=CATALOG_COLUMNS)


# --- cleaning ----------------------------------------------------------------------------------


def test_clean_text_removes_non_printables_and_collapses_whitespace():
    assert clean_text("  a\u200b b\t\tc\n\nd \u00a0e\x07  ") == "a b c d e"
    assert clean_text("x \u2060 y") == "x y"  # removal must not leave a double space behind
    assert clean_text("Pokémon travels—Ein") == "Pokémon travels—Ein"  # Unicode text is kept
    assert clean_text(" \n\t ") == ""


def test_book_clean_text_is_the_books_ascii_filter():
    # The book keeps only string.printable: non-ASCII letters and dashes vanish, gluing words.
    assert book_clean_text("Pokémon travels—Ein") == "Pokmon travelsEin"
    # 2+ whitespace chars become a space; a single newline survives.
    assert book_clean_text("a\nb\n\nc  d \n") == "a\nb c d"


def test_placeholder_synopsis_detected_by_prefix():
    assert is_placeholder_synopsis(PLACEHOLDER)
    assert is_placeholder_synopsis("No synopsis has been added for this series yet.")
    assert not is_placeholder_synopsis("No Game No Life is a surreal comedy.")
    assert not is_placeholder_synopsis(None)


def test_text_hash_is_a_sha256_prefix():
    assert text_hash("abc") == "ba7816bf8f01cfea"  # sha256("abc") starts ba7816bf8f01cfea…
    assert text_hash("abc") != text_hash("abc ")


# --- descriptions ------------------------------------------------------------------------------


def test_book_variant_exact():
    book = describe(frame(TV, MOVIE), "book")
    assert book == [
        "Space Cats is a TV Show.\n"
        "Synopsis: Cats fly in space.\n"
        "It was produced by Aniplex, Dentsu and it is from Bones Studio.\n"
        "Its source is Manga.\n"
        "It premiered in Spring 1998.\n"
        "Its genres are Action, Sci-Fi",
        "Neko Movie is a Movie.\n"
        f"Synopsis: {PLACEHOLDER}\n"
        "It was produced by Unknown and it is from Studio Pierrot Studio.\n"
        "Its source is Unknown.\n"
        "It premiered in Unknown.\n"
        "Its genres are Comedy",
    ]


def test_clean_variant_exact():
    clean = describe(frame(TV, MOVIE), "clean")
    assert clean == [
        "Space Cats is a TV series.\n"
        "Synopsis: Cats fly — in space.\n"
        "It was produced by Aniplex, Dentsu and it is from Bones Studio.\n"
        "Its source is Manga.\n"
        "It premiered in Spring 1998.\n"
        "Its genres are Action, Sci-Fi.",
        "Neko Movie (The Cat Movie) is a movie.\nIt is from Studio Pierrot Studio.\nIts genre is Comedy.",
    ]


def test_clean_variant_partial_fields_and_articles():
    rows = [
        row(name="A", type="OVA", producers="Aniplex"),
        row(name="B", english_name="b", type=None, genres=["Drama", "Romance"]),
        row(name="C", type="Music", synopsis="   ", premiered="Fall 2004"),
        row(name="D", type="Unknown", studios="Unknown", source="Original"),
    ]
    assert describe(rows, "clean") == [
        "A is an OVA.\nIt was produced by Aniplex.",
        "B is an anime.\nIts genres are Drama, Romance.",  # same name in English: not repeated
        "C is a music video.\nIt premiered in Fall 2004.",
        "D is an anime.\nIts source is Original.",  # the literal "Unknown" counts as missing
    ]
    assert describe(rows, "book")[1] == (
        "B is a Unknown.\nSynopsis: Unknown\nIt was produced by Unknown and it is from Unknown "
        "Studio.\nIts source is Unknown.\nIt premiered in Unknown.\nIts genres are Drama, Romance"
    )


def test_describe_accepts_catalog_rows_and_keeps_order():
    catalog = Catalog(frame(MOVIE, TV))
    for variant in VARIANTS:
        texts = describe(catalog, variant)
        assert texts == describe(frame(MOVIE, TV), variant)
        assert describe_one(catalog.row(10), variant) == texts[1]
        assert describe_one(TV, variant) == texts[1]
    assert describe(frame(), "clean") == []


def test_unknown_variant_is_a_one_line_error():
    with pytest.raises(AnimerecError, match="unknown description variant 'fancy'"):
        describe(frame(TV), "fancy")


def test_missing_column_names_it():
    with pytest.raises(AnimerecError, match="no column 'studios'"):
        describe(frame(TV).drop(columns="studios"), "book")


# --- the real sample -----------------------------------------------------------------------------


def raw_sample_row(sample_data, anime_id: str) -> tuple[pd.Series, str]:
    """The anime.csv row and synopsis of one anime, read straight from the CSVs."""
    anime = pd.read_csv(sample_data / "anime.csv", dtype=str).set_index("MAL_ID")
    syn = pd.read_csv(sample_data / "anime_with_synopsis.csv", dtype=str).set_index("MAL_ID")
    return anime.loc[anime_id], syn.loc[anime_id, "sypnopsis"]


def test_cowboy_bebop_matches_the_template(sample_catalog, sample_data):
    raw, synopsis = raw_sample_row(sample_data, "1")
    assert raw["Type"] == "TV"
    # The only non-ASCII character of this synopsis is the em-dash, which the book's filter drops.
    assert {c for c in synopsis if ord(c) > 126} == {"—"}
    fields = (
        f"It was produced by {raw['Producers']} and it is from {raw['Studios']} Studio.\n"
        f"Its source is {raw['Source']}.\n"
        f"It premiered in {raw['Premiered']}.\n"
        f"Its genres are {raw['Genres']}"
    )
    expected_book = f"{raw['Name']} is a TV Show.\nSynopsis: {synopsis.replace('—', '')}\n" + fields
    expected_clean = f"{raw['Name']} is a TV series.\nSynopsis: {synopsis}\n" + fields + "."

    bebop = sample_catalog.row(1)
    book = describe_one(bebop, "book")
    assert book == expected_book
    assert describe_one(bebop, "clean") == expected_clean
    # What the book printed for it, line by line.
    lines = book.split("\n")
    assert lines[0] == "Cowboy Bebop is a TV Show."
    assert lines[1].startswith("Synopsis: In the year 2071,") and "travelsEin" in lines[1]
    assert lines[2:] == [
        "It was produced by Bandai Visual and it is from Sunrise Studio.",
        "Its source is Original.",
        "It premiered in Spring 1998.",
        "Its genres are Action, Adventure, Comedy, Drama, Sci-Fi, Space",
    ]


def test_tengoku_no_tobira_unknown_premiere(sample_catalog):
    movie = sample_catalog.row(5)  # a movie with Premiered "Unknown" and an English name
    book, clean = (describe_one(movie, v).split("\n") for v in ("book", "clean"))
    assert book[0] == "Cowboy Bebop: Tengoku no Tobira is a Movie."
    assert "It premiered in Unknown." in book
    assert clean[0] == "Cowboy Bebop: Tengoku no Tobira (Cowboy Bebop:The Movie) is a movie."
    assert not any(line.startswith("It premiered") for line in clean)


def test_whole_sample_descriptions(sample_catalog):
    frame = sample_catalog.frame
    book = describe(sample_catalog, "book")
    clean = describe(sample_catalog, "clean")
    assert len(book) == len(clean) == len(frame)
    placeholder = frame["synopsis"].map(is_placeholder_synopsis, na_action="ignore")
    n_placeholder = int(placeholder.fillna(False).astype(bool).sum())
    assert n_placeholder == 745  # the sample's README: 745 placeholder synopses
    assert sum(t.split("\n")[1].startswith("Synopsis: No synopsis") for t in book) == 745
    assert not any("No synopsis" in t for t in clean)
    assert all(t.isascii() for t in book)
    for texts in (book, clean):
        assert all(t and "  " not in t and t == t.strip() for t in texts)
    assert all(t.count("\n") == 5 for t in book)  # one template sentence per line


# --- token statistics --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def minilm_tokenizer():
    return load_tokenizer("minilm")


def test_token_lengths_count_special_tokens_without_truncation(minilm_tokenizer):
    texts = ["hello world", "", "word " * 600, "Pokémon travels—Ein"]
    lengths = token_lengths(texts, minilm_tokenizer, batch_size=3)
    # [CLS] hello world [SEP]; [CLS] [SEP]; 600 words, not cut at 512; pokemon travels — ein
    assert lengths.tolist() == [4, 2, 602, 6]
    assert lengths.dtype == np.int64


def test_truncation_shares_and_stats_by_hand():
    lengths = np.array([100, 128, 129, 300, 600])
    assert truncation_shares(lengths) == {128: 0.6, 256: 0.4, 384: 0.2, 512: 0.2}
    stats = length_stats(np.array([1, 2, 3, 4, 5]))
    assert stats == {
        "n": 5,
        "min": 1.0,
        "p50": 3.0,
        "p90": pytest.approx(4.6),
        "p95": pytest.approx(4.8),
        "p99": pytest.approx(4.96),
        "max": 5.0,
        "mean": 3.0,
    }
    with pytest.raises(ValueError):
        truncation_shares(np.array([]))


def test_histogram_png_written_atomically(tmp_path):
    out = tmp_path / "reports" / "hist.png"
    assert plot_token_histogram(np.array([10, 50, 130, 300, 700]), out) == out
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in out.parent.iterdir()] == ["hist.png"]  # no temporary left behind
