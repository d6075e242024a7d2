"""A model's arrays as plain .npy files: names kept, equal arrays stored once, loads mapped."""

from __future__ import annotations

import numpy as np
import pytest

from animerec.errors import AnimerecError
from animerec.recommend.state_files import (
    LEGACY_STATE,
    STATE_DIR,
    copy_on_write,
    has_state,
    read_state,
    write_state,
)


def test_names_with_slashes_round_trip_and_equal_arrays_share_one_file(tmp_path):
    ids = np.arange(50, dtype=np.int64)
    arrays = {
        "member.ease/like1.item_ids": ids,
        "member.l3ae/like5.item_ids": ids.copy(),  # equal bytes: one file
        "member.ease/like1.B": np.eye(50, dtype=np.float32),
        "empty": np.zeros((0, 3), np.float32),
        "meta": np.array('{"a": 1}'),
    }
    write_state(tmp_path, arrays)
    files = sorted(p.name for p in (tmp_path / STATE_DIR).iterdir())
    assert files == sorted(
        [
            "member.ease%2Flike1.item_ids.npy",
            "member.l3ae%2Flike5.item_ids.npy",
            "member.ease%2Flike1.B.npy",
            "empty.npy",
            "meta.npy",
        ]
    )
    a, b = (
        tmp_path / STATE_DIR / f"member.{m}.item_ids.npy" for m in ("ease%2Flike1", "l3ae%2Flike5")
    )
    assert a.stat().st_ino == b.stat().st_ino  # hard links: the page cache holds it once
    back = read_state(tmp_path)
    assert set(back) == set(arrays)
    for k, v in arrays.items():
        np.testing.assert_array_equal(back[k], v)
        assert back[k].dtype == v.dtype and back[k].shape == v.shape
    assert isinstance(back["member.ease/like1.B"], np.memmap)
    assert not back["member.ease/like1.B"].flags.writeable
    assert str(back["meta"]) == '{"a": 1}' and not isinstance(back["meta"], np.memmap)


def test_object_arrays_are_refused_rather_than_pickled(tmp_path):
    with pytest.raises(AnimerecError, match="would need pickle"):
        write_state(tmp_path, {"x": np.array([{"a": 1}], dtype=object)})


def test_copy_on_write_is_writable_and_leaves_the_file_alone(tmp_path):
    write_state(tmp_path, {"f": np.ones((4, 3), np.float32)})
    mapped = read_state(tmp_path)["f"]
    private = copy_on_write(mapped)
    assert private.flags.writeable and isinstance(private, np.memmap)
    private[0, 0] = 7.0
    assert read_state(tmp_path)["f"][0, 0] == 1.0 and mapped[0, 0] == 1.0
    plain = np.zeros(3)
    assert copy_on_write(plain) is plain


def test_old_npz_still_reads_and_damage_says_refit(tmp_path):
    np.savez(tmp_path / LEGACY_STATE, B=np.eye(3, dtype=np.float32))
    assert has_state(tmp_path)
    np.testing.assert_array_equal(read_state(tmp_path)["B"], np.eye(3))
    (tmp_path / LEGACY_STATE).write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(AnimerecError, match="refit"):
        read_state(tmp_path)
    (tmp_path / LEGACY_STATE).unlink()
    assert not has_state(tmp_path)
    with pytest.raises(AnimerecError, match="holds no fitted arrays.*refit"):
        read_state(tmp_path)
    (tmp_path / "new").mkdir()
    write_state(tmp_path / "new", {"B": np.eye(3)})
    (tmp_path / "new" / STATE_DIR / "B.npy").write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(AnimerecError, match="B.npy is not a readable .npy array.*refit"):
        read_state(tmp_path / "new")
