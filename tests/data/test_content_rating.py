"""MAL's Rating column as adult / mild-nudity flags, and the catalog masks built from them."""

from __future__ import annotations

import csv

import numpy as np
import pandas as pd
import pytest

from animerec.data.catalog import Catalog
from animerec.data.content_rating import (
    ContentFlag,
    ContentRating,
    adult_mask,
    excluded_mask,
    mild_nudity_mask,
    parse_rating,
    rating_flags,
)


@pytest.mark.parametrize(
    ("text", "rating"),
    [
        ("G - All Ages", ContentRating.G),
        ("PG - Children", ContentRating.PG),
        ("PG-13 - Teens 13 or older", ContentRating.PG13),
        ("R - 17+ (violence & profanity)", ContentRating.R),
        ("R+ - Mild Nudity", ContentRating.R_PLUS),
        ("Rx - Hentai", ContentRating.RX),
        ("  rx - hentai ", ContentRating.RX),
        ("Rx", ContentRating.RX),
        ("Hentai", ContentRating.RX),  # a respelling naming hentai still counts as adult
        ("Unknown", ContentRating.UNKNOWN),
        ("", ContentRating.UNKNOWN),
        (None, ContentRating.UNKNOWN),
        (float("nan"), ContentRating.UNKNOWN),
        ("X - something new", ContentRating.UNKNOWN),
    ],
)
def test_parse_rating(text: object, rating: ContentRating) -> None:
    assert parse_rating(text) is rating


def test_r_and_r_plus_are_told_apart() -> None:
    flags = rating_flags(
        ["R - 17+ (violence & profanity)", "R+ - Mild Nudity", "Rx - Hentai", None]
    )
    assert flags.tolist() == [0, ContentFlag.MILD_NUDITY, ContentFlag.ADULT, 0]


def _catalog(ratings: list[object]) -> Catalog:
    n = len(ratings)
    frame = pd.DataFrame({"anime_id": np.arange(1, n + 1), "name": [f"t{i}" for i in range(n)]})
    frame["age_rating"] = pd.Series(ratings, dtype="string")
    return Catalog(frame)


def test_catalog_masks() -> None:
    cat = _catalog(["G - All Ages", "Rx - Hentai", "R+ - Mild Nudity", None, "Rx - Hentai"])
    assert adult_mask(cat).tolist() == [False, True, False, False, True]
    assert mild_nudity_mask(cat).tolist() == [False, False, True, False, False]
    assert excluded_mask(cat).tolist() == [False, True, False, False, True]
    assert excluded_mask(cat, include_adult=True).tolist() == [False] * 5
    assert excluded_mask(cat, include_mild_nudity=False).tolist() == [
        False,
        True,
        True,
        False,
        True,
    ]
    assert excluded_mask(cat, include_adult=True, include_mild_nudity=False).tolist() == [
        False,
        False,
        True,
        False,
        False,
    ]
    with pytest.raises(ValueError):
        cat.content_flags[0] = 1  # shared by every request: read-only


def test_catalog_without_the_column_has_no_flags() -> None:
    cat = Catalog(pd.DataFrame({"anime_id": [1, 2], "name": ["a", "b"]}))
    assert not adult_mask(cat).any() and len(adult_mask(cat)) == 2


def test_real_sample_counts_match_the_csv(sample_data, sample_catalog: Catalog) -> None:
    with open(sample_data / "anime.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    want_rx = {int(r["MAL_ID"]) for r in rows if r["Rating"] == "Rx - Hentai"}
    want_rplus = {int(r["MAL_ID"]) for r in rows if r["Rating"] == "R+ - Mild Nudity"}
    ids = sample_catalog.anime_ids
    assert set(ids[adult_mask(sample_catalog)].tolist()) == want_rx
    assert set(ids[mild_nudity_mask(sample_catalog)].tolist()) == want_rplus
    assert len(want_rx) > 1000  # the sample's 1,345 Rx titles, not a vacuous check
    assert not (adult_mask(sample_catalog) & mild_nudity_mask(sample_catalog)).any()
