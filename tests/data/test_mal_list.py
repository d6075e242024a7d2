"""MyAnimeList exports and Kaggle animelist rows: history, exclusions, dislikes, clear errors."""

from __future__ import annotations

import gzip

import pandas as pd
import pytest

from animerec.data.catalog import Catalog
from animerec.data.mal_list import (
    ListEntry,
    ListStatus,
    MalListError,
    load_list,
    load_list_file,
    parse_kaggle_animelist,
    parse_mal_export,
    read_list_bytes,
)

ENTRY = """\
	<anime>
		<series_animedb_id>{id}</series_animedb_id>
		<series_title><![CDATA[{title}]]></series_title>
		<series_type>TV</series_type>
		<series_episodes>12</series_episodes>
		<my_id>0</my_id>
		<my_watched_episodes>12</my_watched_episodes>
		<my_start_date>0000-00-00</my_start_date>
		<my_finish_date>0000-00-00</my_finish_date>
		<my_rated></my_rated>
		<my_score>{score}</my_score>
		<my_storage></my_storage>
		<my_storage_value>0.00</my_storage_value>
		<my_status>{status}</my_status>
		<my_comments><![CDATA[]]></my_comments>
		<my_times_watched>0</my_times_watched>
		<my_rewatch_value></my_rewatch_value>
		<my_priority>LOW</my_priority>
		<my_tags><![CDATA[]]></my_tags>
		<my_rewatching>0</my_rewatching>
		<my_rewatching_ep>0</my_rewatching_ep>
		<my_discuss>1</my_discuss>
		<my_sns>default</my_sns>
		<update_on_import>0</update_on_import>
	</anime>
"""


def mal_export(entries: list[tuple[int, str, int | str, str]]) -> bytes:
    """A list in the layout of MAL's "Export my list" (XML export version 1.1.0)."""
    body = "".join(ENTRY.format(id=i, title=t, score=s, status=st) for i, t, s, st in entries)
    return (
        '<?xml version="1.0" encoding="UTF-8" ?>\n'
        "<!--\n Created by XML Export feature at MyAnimeList.net\n Version 1.1.0\n-->\n"
        "<myanimelist>\n\t<myinfo>\n\t\t<user_id>4242</user_id>\n\t\t<user_name>fan</user_name>\n"
        "\t\t<user_export_type>1</user_export_type>\n"
        f"\t\t<user_total_anime>{len(entries)}</user_total_anime>\n\t</myinfo>\n"
        f"{body}</myanimelist>\n"
    ).encode()


LIST = [
    (1, "Cowboy Bebop", 9, "Completed"),
    (19, "Monster", 10, "Completed"),
    (5, "Cowboy Bebop: Tengoku no Tobira", 0, "Completed"),  # seen, not scored
    (30, "Neon Genesis Evangelion", 4, "Dropped"),
    (20, "Naruto", 0, "Watching"),
    (21, "One Piece", 0, "On-Hold"),
    (32281, "Kimi no Na wa.", 0, "Plan to Watch"),
    (999999, "Something new", 8, "Completed"),  # not in the catalog
]


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    ids = [1, 5, 19, 20, 21, 30, 32281]
    return Catalog(pd.DataFrame({"anime_id": ids, "name": [f"anime {i}" for i in ids]}))


def test_mal_export_splits_history_exclusions_and_dislikes(catalog: Catalog) -> None:
    got = load_list(mal_export(LIST), catalog)
    assert got.source == "mal-xml" and got.n_entries == 8
    assert got.history == {1: 9, 19: 10}
    assert got.excluded == {5, 30, 20, 21, 32281}
    assert got.dislikes == {30}
    assert got.unknown_ids == (999999,)
    assert got.statuses[20] is ListStatus.WATCHING and got.statuses[1] is ListStatus.COMPLETED
    assert 999999 not in got.statuses


def test_gzipped_export_reads_the_same(catalog: Catalog) -> None:
    plain = load_list(mal_export(LIST), catalog)
    assert load_list(gzip.compress(mal_export(LIST)), catalog) == plain


def test_statuses_and_numeric_codes() -> None:
    entries = parse_mal_export(mal_export([(1, "a", 7, "completed"), (2, "b", 0, "6")]))
    assert [e.status for e in entries] == [ListStatus.COMPLETED, ListStatus.PLAN_TO_WATCH]
    assert entries[0].score == 7


def test_huge_ids_are_unknown_not_a_crash(catalog: Catalog) -> None:
    got = load_list(mal_export([(10**30, "a", 9, "Completed"), (1, "b", 8, "Completed")]), catalog)
    assert got.unknown_ids == (10**30,) and got.history == {1: 8}


def test_duplicates_count_once(catalog: Catalog) -> None:
    got = load_list(mal_export([(1, "a", 9, "Completed"), (1, "a", 2, "Dropped")]), catalog)
    assert got.history == {1: 9} and got.duplicate_ids == (1,) and not got.dislikes


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (mal_export(LIST)[:-200], r"line \d+, column \d+: not well-formed XML"),
        (b"<html><body>nope</body></html>", r"root element is <html>, not <myanimelist>"),
        (
            mal_export([(1, "a", 9, "Completed"), (19, "b", "ten", "Completed")]),
            r"line 3\d, <anime> #2 \(series_animedb_id 19\): <my_score> is 'ten'",
        ),
        (mal_export([(1, "a", 11, "Completed")]), r"<my_score> is '11', not a whole number"),
        (mal_export([(1, "a", 5, "Finished")]), r"<my_status> is 'Finished', not one of"),
        (mal_export([("x1", "a", 5, "Completed")]), r"<anime> #1: <series_animedb_id> is 'x1'"),
        (b"\x1f\x8b\x08\x00broken", r"not a readable gzip file"),
        (b"", r"not well-formed XML|missing column"),
    ],
)
def test_broken_exports_name_the_place(catalog: Catalog, data: bytes, message: str) -> None:
    with pytest.raises(MalListError, match=message) as info:
        load_list(data, catalog)
    assert isinstance(info.value, ValueError)


def test_entity_bomb_is_refused(catalog: Catalog) -> None:
    bomb = (
        b'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
        + b"".join(
            f' <!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n'.encode()
            for i in range(1, 10)
        )
        + b"]>\n<myanimelist><anime><series_animedb_id>1</series_animedb_id>"
        b"<my_score>&lol9;</my_score><my_status>Completed</my_status></anime></myanimelist>"
    )
    with pytest.raises(MalListError, match="refused"):
        load_list(bomb, catalog)
    external = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        b"<myanimelist>&e;</myanimelist>"
    )
    with pytest.raises(MalListError, match="refused"):
        load_list(external, catalog)


def test_size_bounds() -> None:
    with pytest.raises(MalListError, match="limit is 1,000"):
        read_list_bytes(b"x" * 1001, max_bytes=1000)
    small_bomb = gzip.compress(b"<" * 10_000)
    assert len(small_bomb) < 1000
    with pytest.raises(MalListError, match="unpacks to more than 1,000"):
        read_list_bytes(small_bomb, max_bytes=1000)
    with pytest.raises(MalListError, match="more than 2 entries"):
        parse_mal_export(mal_export(LIST[:3]), max_entries=2)


KAGGLE = """user_id,anime_id,score,watching_status,watched_episodes
7,1,9,2,26
7,19,10,2,74
7,5,0,2,1
7,30,3,4,10
7,20,0,1,50
7,21,0,3,100
7,32281,0,6,0
7,999999,8,2,12
8,1,2,2,26
"""


def test_kaggle_rows_of_one_user(catalog: Catalog) -> None:
    got = load_list(KAGGLE.encode(), catalog, user_id=7)
    assert got.source == "kaggle-csv"
    assert got.history == {1: 9, 19: 10}
    assert got.excluded == {5, 30, 20, 21, 32281}
    assert got.dislikes == {30}
    assert got.unknown_ids == (999999,)
    assert load_list(KAGGLE.encode(), catalog, user_id=8).history == {1: 2}
    assert parse_kaggle_animelist(KAGGLE.encode(), user_id=8) == [
        ListEntry(1, 2, ListStatus.COMPLETED)
    ]


@pytest.mark.parametrize(
    ("text", "user", "message"),
    [
        (KAGGLE, None, r"holds 2 users \(7, 8\)"),
        (KAGGLE, 9, r"no rows of user_id 9"),
        ("user_id,anime_id,score\n7,1,9\n", 7, r"line 1: missing column\(s\) watching_status"),
        (KAGGLE.replace("7,30,3,4,10", "7,30,3,5,10"), 7, r"line 5: watching_status is 5"),
        (KAGGLE.replace("7,19,10,2", "7,19,12,2"), 7, r"line 3: score is '12'"),
        (KAGGLE.replace("7,20,0,1,50", "7,abc,0,1,50"), 7, r"line 6: anime_id is 'abc'"),
        (KAGGLE.replace("7,21,0,3,100", "7,21"), 7, r"line 7: 2 fields, the header has 5"),
    ],
)
def test_broken_kaggle_rows(catalog: Catalog, text: str, user: int | None, message: str) -> None:
    with pytest.raises(MalListError, match=message):
        load_list(text.encode(), catalog, user_id=user)


def test_file_errors_name_the_file(tmp_path, catalog: Catalog) -> None:
    p = tmp_path / "animelist.xml.gz"
    p.write_bytes(gzip.compress(mal_export([(1, "a", "x", "Completed")])))
    with pytest.raises(MalListError, match=r"animelist\.xml\.gz: line \d+, <anime> #1"):
        load_list_file(p, catalog)
    with pytest.raises(MalListError, match="cannot read the file"):
        load_list_file(tmp_path / "missing.xml", catalog)
    p.write_bytes(mal_export(LIST))
    assert load_list_file(p, catalog).history == {1: 9, 19: 10}


def test_real_sample_ids(sample_catalog: Catalog) -> None:
    """A list of real MAL ids against the sample's catalog: all known but the made-up one."""
    entries = [
        (1, "Cowboy Bebop", 10, "Completed"),
        (1575, "Code Geass: Hangyaku no Lelouch", 9, "Completed"),
        (2904, "Code Geass: Hangyaku no Lelouch R2", 0, "Plan to Watch"),
        (9253, "Steins;Gate", 8, "Completed"),
        (11061, "Hunter x Hunter (2011)", 0, "Watching"),
        (21, "One Piece", 3, "Dropped"),
        (99_999_999, "not an anime", 7, "Completed"),
    ]
    got = load_list(gzip.compress(mal_export(entries)), sample_catalog)
    assert got.history == {1: 10, 1575: 9, 9253: 8}
    assert got.excluded == {2904, 11061, 21} and got.dislikes == {21}
    assert got.unknown_ids == (99_999_999,)
