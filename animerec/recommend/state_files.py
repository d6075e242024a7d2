"""A fitted model's arrays on disk: one plain ``.npy`` per array, loaded memory-mapped.

Why: ``animerec serve --workers N`` loads the served model once per worker. Arrays read out of an
``.npz`` are private copies (N workers, N copies of the adaptive model's five dense item-item
matrices); an ``.npy`` opened with ``mmap_mode="r"`` is backed by the page cache, which every
worker shares, so the fitted arrays cost one copy however many workers serve them. The mapping is
read-only: a model that wrote into its fitted arrays would fail loudly instead of silently
un-sharing them.

Layout: ``<model dir>/state/<key>.npy`` with the key percent-encoded (``member.ease/like1.B`` →
``member.ease%2Flike1.B.npy``); arrays equal in dtype, shape and bytes (the adaptive model's
members share their item ids and popularity prior) are one file under several hard-linked names,
so they are mapped once. Never pickle (``allow_pickle=False`` both ways). The caller writes
into a temporary directory renamed into place (:meth:`Recommender.save` uses
:func:`~animerec.workspace.atomic_path`), so a file a worker maps is never rewritten in place.
Models saved before this layout hold one ``state.npz``; :func:`read_state` still reads it (into
memory, as before), and :func:`animerec.recommend.store.fitted` rewrites such a fit once in this
layout, so an old workspace keeps serving without a refit and shares pages from then on.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from pathlib import Path
from urllib.parse import quote, unquote

import numpy as np

from animerec.errors import AnimerecError

__all__ = [
    "LEGACY_STATE",
    "STATE_DIR",
    "copy_on_write",
    "has_state",
    "is_legacy",
    "read_state",
    "write_state",
]

STATE_DIR = "state"
"""The folder of ``.npy`` files inside a saved model's directory."""
LEGACY_STATE = "state.npz"
"""What models saved before the memory-mapped layout hold instead."""
SUFFIX = ".npy"


def write_state(model_dir: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write every array of ``arrays`` as ``model_dir/state/<key>.npy`` (``model_dir`` is the
    caller's fresh temporary directory)."""
    folder = model_dir / STATE_DIR
    folder.mkdir()
    written: dict[str, Path] = {}
    for key, value in arrays.items():
        if not key:
            raise AnimerecError("a model's state has an array with an empty name")
        array = np.asarray(value)
        if array.dtype.hasobject:
            raise AnimerecError(f"state array {key!r} holds Python objects (would need pickle)")
        path = folder / f"{quote(key, safe='')}{SUFFIX}"
        digest = _digest(array)
        same = written.get(digest)
        if same is not None:  # members of one model often hold equal arrays: one file, one map
            os.link(same, path)
            continue
        with path.open("wb") as f:
            np.save(f, array, allow_pickle=False)
        written[digest] = path


def _digest(array: np.ndarray) -> str:
    """What makes two arrays the same file: dtype, shape and bytes."""
    h = hashlib.sha256(f"{array.dtype.str}{array.shape}".encode())
    h.update(np.ascontiguousarray(array).reshape(-1).view(np.uint8).data if array.size else b"")
    return h.hexdigest()


def has_state(model_dir: Path) -> bool:
    """Whether ``model_dir`` holds a model's arrays (either layout)."""
    return (model_dir / STATE_DIR).is_dir() or (model_dir / LEGACY_STATE).is_file()


def is_legacy(model_dir: Path) -> bool:
    """Whether ``model_dir`` holds only an older ``state.npz`` (read into memory, not mapped)."""
    return not (model_dir / STATE_DIR).is_dir() and (model_dir / LEGACY_STATE).is_file()


def _load(path: Path) -> np.ndarray:
    """One array: numeric ones memory-mapped read-only, text (a model's JSON notes) in memory."""
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
        if array.dtype.kind in "USV":
            array = np.array(array)
    except (OSError, ValueError, EOFError) as exc:
        raise AnimerecError(
            f"{path} is not a readable .npy array ({exc}): refit the model"
        ) from None
    return array


def read_state(model_dir: Path) -> dict[str, np.ndarray]:
    """The arrays :func:`write_state` wrote (memory-mapped), or an older ``state.npz``'s."""
    folder = model_dir / STATE_DIR
    if folder.is_dir():
        return {
            unquote(p.name[: -len(SUFFIX)]): _load(p)
            for p in sorted(folder.iterdir())
            if p.name.endswith(SUFFIX)
        }
    legacy = model_dir / LEGACY_STATE
    if legacy.is_file():
        try:
            with np.load(legacy, allow_pickle=False) as z:
                return {k: z[k] for k in z.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise AnimerecError(
                f"{legacy} is not a readable .npz ({exc}): refit the model"
            ) from None
    raise AnimerecError(
        f"{model_dir} holds no fitted arrays ({STATE_DIR}/ or {LEGACY_STATE}): refit the model"
    )


def copy_on_write(array: np.ndarray) -> np.ndarray:
    """``array`` as a writable buffer that still shares its file's pages until written (a
    private ``mmap_mode="c"`` map of the same file), for libraries whose compiled kernels only
    take writable buffers (implicit's ALS); an array in memory comes back as it is."""
    if not isinstance(array, np.memmap) or array.flags.writeable or array.filename is None:
        return array
    order = "F" if array.flags.f_contiguous and not array.flags.c_contiguous else "C"
    return np.memmap(
        array.filename, array.dtype, "c", offset=array.offset, shape=array.shape, order=order
    )
