"""Two taste clusters with a known right answer, shared by the recommenders' tests.

A plain module (not conftest) so that test files can import it by a name unique in the tree.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from animerec.data.catalog import Catalog
from animerec.data.ratings import Ratings

A_IDS = [1, 2, 3, 4, 5]
B_IDS = [11, 12, 13, 14, 15]
COLD_ID = 99
"""In the catalog, rated by nobody: no collaborative model can score it."""


@dataclass(frozen=True)
class Clusters:
    catalog: Catalog
    train: Ratings


def two_clusters() -> Clusters:
    """Users 0–5 promote cluster A (all but one title each) and rate one B title 3; users 10–15
    do the same the other way round. Nobody rates anime 99."""
    ids = [*A_IDS, *B_IDS, COLD_ID]
    names = [f"A{i}" for i in range(1, 6)] + [f"B{i}" for i in range(1, 6)] + ["Cold"]
    catalog = Catalog(
        pd.DataFrame(
            {
                "anime_id": ids,
                "name": names,
                # metadata for the uniform filters: A titles are TV, B titles films; A5 is adult
                "type": ["TV"] * 5 + ["Movie"] * 5 + ["OVA"],
                "age_rating": ["PG-13 - Teens 13 or older"] * 4
                + ["Rx - Hentai"]
                + ["R - 17+ (violence & profanity)"] * 6,
                "aired": [f"Apr 3, {1990 + i} to Apr 24, {1991 + i}" for i in range(11)],
                "genres": ["Action, Drama"] * 5 + ["Comedy"] * 5 + ["Mecha"],
            }
        )
    )
    users, items, ratings = [], [], []
    for group, (mine, other) in enumerate([(A_IDS, B_IDS), (B_IDS, A_IDS)]):
        for u in range(6):
            user = 10 * group + u
            for j, a in enumerate(mine):
                if j != u % 5:
                    users.append(user), items.append(a), ratings.append(10 - (u + j) % 2)
            users.append(user), items.append(other[u % 5]), ratings.append(3)
    return Clusters(catalog, Ratings.from_arrays(users, items, ratings))
