"""Title lookup: exact matches over name and English name, close matches for everything else."""

from __future__ import annotations

import pandas as pd
import pytest

from animerec.data.catalog import Catalog
from animerec.data.titles import EXACT, PREFIX, TitleIndex, normalize_title
from animerec.errors import UnknownTitleError


@pytest.fixture(scope="module")
def small() -> TitleIndex:
    frame = pd.DataFrame(
        {
            "anime_id": [1, 5, 19, 9253, 30484, 7028, 136, 11061],
            "name": [
                "Cowboy Bebop",
                "Cowboy Bebop: Tengoku no Tobira",
                "Monster",
                "Steins;Gate",
                "Steins;Gate 0",
                "Pop",
                "Hunter x Hunter",
                "Hunter x Hunter (2011)",
            ],
            "english_name": [
                "Cowboy Bebop",
                "Cowboy Bebop: The Movie",
                None,
                "Steins;Gate",
                None,
                None,
                None,
                "Hunter x Hunter",
            ],
            "popularity": [39, 518, 169, 13, 300, 9000, 600, 9],
        }
    )
    return TitleIndex(Catalog(frame))


def test_normalize_folds_case_accents_and_punctuation() -> None:
    assert normalize_title("  Steins;Gate ") == "steins gate"
    assert normalize_title("Pokémon: The Origin") == "pokemon the origin"
    assert normalize_title("Kimi no Na wa.") == "kimi no na wa"


def test_resolve_exact_forms(small: TitleIndex) -> None:
    assert small.resolve("Cowboy Bebop") == 1
    assert small.resolve("cowboy bebop") == 1
    assert small.resolve("Cowboy Bebop: The Movie") == 5  # English name
    assert small.resolve("SteinsGate") == 9253  # punctuation and spaces dropped
    assert small.resolve("steins gate") == 9253
    assert small.resolve("MONSTER") == 19


def test_romaji_name_wins_over_an_english_name_that_equals_it(small: TitleIndex) -> None:
    # "Hunter x Hunter" is the name of 136 and the English name of 11061 (more popular).
    assert small.resolve("Hunter x Hunter") == 136


def test_typo_raises_with_close_matches(small: TitleIndex) -> None:
    with pytest.raises(UnknownTitleError) as err:
        small.resolve("Cowbboy Bepop")
    msg = str(err.value)
    assert msg.startswith("no anime matches 'Cowbboy Bepop'; did you mean: Cowboy Bebop (1)")
    # A title much shorter than the query is not a close match ("Pop" is inside "Bepop").
    assert "Pop (7028)" not in msg


def test_nothing_close(small: TitleIndex) -> None:
    with pytest.raises(UnknownTitleError, match="no title is close"):
        small.resolve("zzzzqqqq")
    with pytest.raises(KeyError):  # UnknownTitleError is also a KeyError
        small.resolve("zzzzqqqq")


def test_search_ranks_exact_then_prefix_then_fuzzy(small: TitleIndex) -> None:
    hits = small.search("cowboy bebop", 5)
    assert [h.anime_id for h in hits[:2]] == [1, 5]
    assert hits[0].score == EXACT and hits[1].score == PREFIX
    steins = small.search("steins gate", 5)
    assert [h.anime_id for h in steins[:2]] == [9253, 30484]
    assert len({h.anime_id for h in small.search("hunter", 10)}) == len(small.search("hunter", 10))


def test_search_limit_and_empty(small: TitleIndex) -> None:
    assert len(small.search("e", 2)) <= 2
    assert small.search("   ", 5) == []
    assert small.search("monster", 0) == []


def test_real_catalog_titles(sample_catalog: Catalog) -> None:
    index = TitleIndex(sample_catalog)
    bebop = index.search("bebop", 5)
    assert bebop[0].anime_id == 1 and bebop[0].title == "Cowboy Bebop"
    assert {h.anime_id for h in bebop[:2]} == {1, 5}
    # Romaji and English names of the same show resolve to the same anime.
    assert index.resolve("Shingeki no Kyojin") == index.resolve("Attack on Titan") == 16498
    assert index.resolve("Steins;Gate") == 9253
    with pytest.raises(UnknownTitleError, match=r"did you mean: Cowboy Bebop \(1\)"):
        index.resolve("Cowbboy Bepop")
