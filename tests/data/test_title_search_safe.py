"""Title search over Japanese names, and no adult suggestions unless asked for."""

from __future__ import annotations

import time

import pandas as pd
import pytest

from animerec.data.catalog import Catalog
from animerec.data.content_rating import adult_mask
from animerec.data.titles import TitleIndex, normalize_title
from animerec.errors import UnknownTitleError


@pytest.fixture(scope="module")
def small() -> TitleIndex:
    frame = pd.DataFrame(
        {
            "anime_id": [1, 5, 19, 900, 901, 902],
            "name": [
                "Cowboy Bebop",
                "Cowboy Bebop: Tengoku no Tobira",
                "Monster",
                "Enbo",
                "Maid Adult Title",
                "Maid-sama",
            ],
            "english_name": [
                "Cowboy Bebop",
                "Cowboy Bebop: The Movie",
                None,
                "Taboo Charming Mother",
                None,
                "Maid Sama!",
            ],
            "japanese_name": [
                "カウボーイビバップ",
                "カウボーイビバップ 天国の扉",
                "MONSTER",
                "艶母",
                None,
                "会長はメイド様!",
            ],
            "age_rating": [
                "R - 17+ (violence & profanity)",
                "R - 17+ (violence & profanity)",
                "R+ - Mild Nudity",
                "Rx - Hentai",
                "Rx - Hentai",
                "PG-13 - Teens 13 or older",
            ],
            "popularity": [39, 518, 169, 3000, 5, 100],
        }
    )
    return TitleIndex(Catalog(frame))


def test_normalize_keeps_japanese_voicing_and_folds_width() -> None:
    assert normalize_title("カウボーイビバップ") == "カウボーイビバップ"
    assert normalize_title("ｶｳﾎﾞｰｲﾋﾞﾊﾞｯﾌﾟ") == "カウボーイビバップ"  # half-width katakana
    assert normalize_title("ビ") != normalize_title("ヒ")
    assert normalize_title("Pokémon") == "pokemon"  # Latin accents still fold


def test_japanese_names_resolve_and_search(small: TitleIndex) -> None:
    assert small.resolve("カウボーイビバップ") == 1
    assert small.resolve("カウボーイビバップ　天国の扉") == 5  # full-width space
    hits = small.search("カウボーイ", 5)
    assert [h.anime_id for h in hits] == [1, 5]
    assert hits[0].matched == "カウボーイビバップ"
    assert small.search("メイド様", 3)[0].anime_id == 902


def test_adult_titles_are_not_suggested_by_default(small: TitleIndex) -> None:
    assert 900 not in {h.anime_id for h in small.search("bebop", 10)}
    assert {h.anime_id for h in small.search("maid", 10)} == {902}
    assert {h.anime_id for h in small.search("maid", 10, include_adult=True)} == {901, 902}
    assert small.search("Enbo", 5) == []  # exact, but adult: not a suggestion
    assert small.exact("Enbo") == [] and small.exact("Enbo", include_adult=True)
    assert small.resolve("Enbo") == 900  # a title named exactly still resolves (it was watched)
    with pytest.raises(UnknownTitleError) as info:
        small.resolve("Enboo")
    assert "900" not in str(info.value)
    with pytest.raises(UnknownTitleError, match=r"Enbo \(900\)"):
        small.resolve("Enboo", include_adult=True)
    assert 19 in {h.anime_id for h in small.search("monster", 5)}  # R+ is not adult


def test_no_match_is_an_empty_list(small: TitleIndex) -> None:
    assert small.search("zzzzqqqqxxxx", 10) == []


def test_real_sample(sample_catalog: Catalog) -> None:
    index = TitleIndex(sample_catalog)
    assert index.resolve("カウボーイビバップ") == 1
    assert index.search("カウボーイビバップ", 3)[0].anime_id == 1
    assert index.resolve("進撃の巨人") == 16498
    adult = set(sample_catalog.anime_ids[adult_mask(sample_catalog)].tolist())
    for q in ("bebop", "maid", "sister", "teacher", "nurse", "カウボーイ", "school"):
        hits = index.search(q, 20)
        assert hits, q
        assert not adult & {h.anime_id for h in hits}, q
    assert adult & {h.anime_id for h in index.search("maid", 20, include_adult=True)}
    start = time.perf_counter()
    for q in ("steins gate", "進撃", "kimi ni todoke", "カウボーイ"):
        index.search(q, 10)
    assert (time.perf_counter() - start) / 4 < 0.25  # one search stays interactive
