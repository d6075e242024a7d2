"""The one genre parser: MAL's comma-separated strings and list-valued columns alike."""

from __future__ import annotations

import numpy as np

from animerec.data.genres import parse_genres


def test_strings_lists_and_missing_values():
    assert parse_genres("Action, Comedy,Sci-Fi") == ["Action", "Comedy", "Sci-Fi"]
    assert parse_genres(" Action , , Drama ") == ["Action", "Drama"]
    assert parse_genres(["Action ", "", "Mecha"]) == ["Action", "Mecha"]
    assert parse_genres(np.array(["Drama"])) == ["Drama"]
    for missing in (None, float("nan"), "", 3):
        assert parse_genres(missing) == []
