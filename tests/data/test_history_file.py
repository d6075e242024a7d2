"""H.csv reading: histories in file order, and one error naming the file, line and field."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from animerec.data.catalog import Catalog
from animerec.data.history_file import read_history
from animerec.errors import DataError

CATALOG = Catalog(pd.DataFrame({"anime_id": [1, 2, 3], "name": ["a", "b", "c"]}))


def write(tmp_path, text: str):
    path = tmp_path / "H.csv"
    path.write_text(text)
    return path


def test_users_in_order_of_first_appearance_with_their_ratings(tmp_path):
    path = write(tmp_path, "rating, anime_id ,user_id\n9,2,7\n10,1,3\n4,3,7\n")
    users, histories = read_history(path, CATALOG)
    assert users.tolist() == [7, 3]
    assert histories[0].anime_ids.tolist() == [2, 3] and histories[0].ratings.tolist() == [9, 4]
    assert histories[1].anime_ids.tolist() == [1] and histories[1].ratings.dtype == np.int8


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the file is empty"),
        ("user_id,anime_id\n1,2\n", "missing column rating"),
        ("user_id,anime_id,rating\n", "no rating rows"),
        ("user_id,anime_id,rating\n1,2,9\n1,x,9\n", "line 3: field 'anime_id': 'x' is not an integer"),
        ("user_id,anime_id,rating\n1,2,11\n", "line 2: field 'rating': 11 is outside 1–10"),
        ("user_id,anime_id,rating\n1,99,9\n", "line 2: field 'anime_id': anime 99 is not in"),
        ("user_id,anime_id,rating\n1,2,9\n1,2,8\n", "line 3: field 'anime_id': user 1 rated anime 2 twice (first on line 2)"),
    ],
)  # fmt: skip
def test_each_problem_names_the_file_line_and_field(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(DataError, match=str(path)) as err:
        read_history(path, CATALOG)
    assert message in str(err.value)


def test_a_missing_file_or_a_folder(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        read_history(tmp_path / "none.csv", CATALOG)
    with pytest.raises(DataError, match="is a folder"):
        read_history(tmp_path, CATALOG)
