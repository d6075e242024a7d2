"""The tiny MAL-layout dataset of the serving tests (imported by their conftest and tests).

It has two taste clusters, so the right answers are known by hand: space westerns
{1 Cowboy Bebop, 2 its movie, 3 Trigun, 4 Samurai Champloo} loved by users 1–12, and Key dramas
{5 Clannad, 6 Kanon, 7 Air, 12 Toradora!} loved by users 13–24; three shows that users 1–6 and
13–30 all rate 9 {8 Monster, 9 Steins;Gate, 10 Attack on Titan} (the most promoted); 11 Space
Dandy is loved by users 1–6 only. Whoever likes Cowboy Bebop should get 2, 3, 4 first.
"""

from __future__ import annotations

import csv
from pathlib import Path

SERVE_MODELS = ("ease", "popularity")

ANIME_HEADER = [
    "MAL_ID", "Name", "Score", "Genres", "English name", "Japanese name", "Type", "Episodes",
    "Aired", "Premiered", "Producers", "Licensors", "Studios", "Source", "Duration", "Rating",
    "Ranked", "Popularity", "Members", "Favorites",
]  # fmt: skip

# id, name, english, type, episodes, aired, premiered, genres, studio, popularity rank
TINY_ANIME = [
    (1, "Cowboy Bebop", "Cowboy Bebop", "TV", 26, "Apr 3, 1998 to Apr 24, 1999", "Spring 1998", "Action, Sci-Fi, Space", "Sunrise", 39),
    (2, "Cowboy Bebop: Tengoku no Tobira", "Cowboy Bebop: The Movie", "Movie", 1, "Sep 1, 2001", "Unknown", "Action, Sci-Fi, Space", "Bones", 518),
    (3, "Trigun", "Trigun", "TV", 26, "Apr 1, 1998 to Sep 30, 1998", "Spring 1998", "Action, Sci-Fi", "Madhouse", 260),
    (4, "Samurai Champloo", "Samurai Champloo", "TV", 26, "May 20, 2004 to Mar 19, 2005", "Spring 2004", "Action, Samurai", "Manglobe", 60),
    (5, "Clannad", "Clannad", "TV", 23, "Oct 4, 2007 to Mar 28, 2008", "Fall 2007", "Drama, Romance", "Kyoto Animation", 100),
    (6, "Kanon (2006)", "Kanon", "TV", 24, "Oct 5, 2006 to Mar 15, 2007", "Fall 2006", "Drama, Romance", "Kyoto Animation", 600),
    (7, "Air", "Air", "TV", 12, "Jan 6, 2005 to Mar 31, 2005", "Winter 2005", "Drama, Romance", "Kyoto Animation", 700),
    (8, "Monster", "Monster", "TV", 74, "Apr 7, 2004 to Sep 28, 2005", "Spring 2004", "Mystery, Drama", "Madhouse", 150),
    (9, "Steins;Gate", "Steins;Gate", "TV", 24, "Apr 6, 2011 to Sep 14, 2011", "Spring 2011", "Sci-Fi, Thriller", "White Fox", 10),
    (10, "Shingeki no Kyojin", "Attack on Titan", "TV", 25, "Apr 7, 2013 to Sep 29, 2013", "Spring 2013", "Action, Drama", "Wit Studio", 1),
    (11, "Space☆Dandy", "Space Dandy", "TV", 13, "Jan 5, 2014 to Mar 27, 2014", "Winter 2014", "Comedy, Sci-Fi, Space", "Bones", 900),
    (12, "Toradora!", "Toradora!", "TV", 25, "Oct 2, 2008 to Mar 26, 2009", "Fall 2008", "Comedy, Romance", "J.C.Staff", 40),
]  # fmt: skip

SPACE, KEY, EVERYONE = (1, 2, 3, 4), (5, 6, 7, 12), (8, 9, 10)

# Two adult ("Rx - Hentai") titles, only in the adult variant (``write_tiny_data(adult=True)``):
# 13 shares Cowboy Bebop's genres and its fans (users 1–12) rate it 10; 14 is rated 10 by
# everyone else (users 13–30), so it is the most popular title. Kept out of the default data on
# purpose: test_serve_recorded.py replays exact EASE scores of the 12-title catalog.
ADULT_ANIME = [
    (13, "Cowboy Bebop: Yoru no Hanashi", "Bebop After Dark", "OVA", 2, "Jan 1, 2002 to Feb 1, 2002", "Unknown", "Hentai, Sci-Fi, Space", "Pink Pineapple", 2),
    (14, "Kanon: Himitsu no Heya", "Kanon: Secret Room", "OVA", 2, "Mar 1, 2007 to Apr 1, 2007", "Unknown", "Hentai, Drama, Romance", "Pink Pineapple", 3),
]  # fmt: skip
ADULT = tuple(a[0] for a in ADULT_ANIME)


def tiny_ratings(adult: bool = False) -> list[tuple[int, int, int]]:
    rows = []
    if adult:
        rows += [(u, 13, 10) for u in range(1, 13)] + [(u, 14, 10) for u in range(13, 31)]
    for u in range(1, 13):  # space-western fans
        rows += [(u, a, 9 + (u + a) % 2) for a in SPACE]
        rows += [(u, a, 3) for a in (5, 6)]
        if u <= 6:
            rows += [(u, 11, 9)] + [(u, a, 9) for a in EVERYONE]
    for u in range(13, 25):  # Key-drama fans
        rows += [(u, a, 9 + (u + a) % 2) for a in KEY]
        rows += [(u, a, 9) for a in EVERYONE] + [(u, 1, 4)]
    for u in range(25, 31):  # the mainstream
        rows += [(u, a, 9) for a in EVERYONE]
    return rows


def write_tiny_data(d: Path, adult: bool = False) -> Path:
    """The tiny dataset in ``d``; with ``adult``, also :data:`ADULT_ANIME` and their ratings."""
    d.mkdir(parents=True, exist_ok=True)
    anime = TINY_ANIME + (ADULT_ANIME if adult else [])
    with (d / "anime.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(ANIME_HEADER)
        for aid, name, en, typ, eps, aired, prem, genres, studio, pop in anime:
            rating = "Rx - Hentai" if aid in ADULT else "PG-13"
            w.writerow([aid, name, "8.0", genres, en, "x", typ, eps, aired, prem, "Aniplex",
                        "Unknown", studio, "Original", "24 min. per ep.", rating, aid, pop,
                        100_000 // pop, 10])  # fmt: skip
    with (d / "anime_with_synopsis.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["MAL_ID", "Name", "Score", "Genres", "sypnopsis"])
        for aid, name, *_ in anime:
            w.writerow([aid, name, "8.0", "", f"The story of {name}."])
    with (d / "rating_complete.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["user_id", "anime_id", "rating"])
        w.writerows(tiny_ratings(adult))
    return d


def new_user(client) -> tuple[str, dict[str, str]]:
    """A fresh API user: its public id and the ``Authorization`` header its calls need."""
    r = client.post("/users", json={})
    assert r.status_code == 201, r.text
    body = r.json()
    return body["id"], {"Authorization": f"Bearer {body['token']}"}
