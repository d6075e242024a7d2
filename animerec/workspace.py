"""The workspace: one folder of plain files that every command reads and writes.

Artefacts are written to a temporary name beside their target and renamed into place, so a crash
never leaves a half-written file where a later command would trust it.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from animerec.errors import AnimerecError

ENV_VAR = "ANIMEREC_WORKSPACE"
DEFAULT_DIR = "animerec-workspace"


class WorkspaceError(AnimerecError):
    """A workspace is missing something a command needs (say, ingest was never run)."""


def default_workspace() -> Path:
    return Path(os.environ.get(ENV_VAR) or DEFAULT_DIR)


_AT_FDCWD, _RENAME_EXCHANGE = -100, 2


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux ``renameat2(RENAME_EXCHANGE)``); False where the
    system or the file system cannot, so the caller falls back to two renames."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    res = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if res == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EPERM):
        return False
    raise OSError(err, os.strerror(err), str(b))


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` only on success.

    Works for files and directories alike: whatever the caller creates at the yielded path
    replaces ``target`` in one rename. An existing directory target is swapped with the new one
    in one step where Linux can (``RENAME_EXCHANGE``), so a crash at any moment leaves the old
    or the new folder, never neither; elsewhere it is moved aside first (a crash between the
    two renames leaves it as ``.NAME.old``).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    work = tmp / target.name
    try:
        yield work
        if not work.exists():
            raise FileNotFoundError(f"nothing was written to {work}")
        if target.is_dir() and not target.is_symlink() and _exchange(work, target):
            pass  # ``work`` now holds the old folder, removed with ``tmp`` below
        elif target.is_dir() and not target.is_symlink():
            old = target.with_name(f".{target.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            target.rename(old)
            work.rename(target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(work, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_json(path: str | os.PathLike[str], obj: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def read_json(path: str | os.PathLike[str]) -> Any:
    return json.loads(Path(path).read_text())


def read_entries(path: str | os.PathLike[str] | None, name: str) -> dict[str, dict[str, Any]]:
    """The entries of the keyed JSON cache ``path`` written for ``name`` ({} if none).

    A keyed cache (``WS/tuning/<name>.json``: grid-search choices, the hybrid's learned
    fusions) is ``{"model": name, "entries": {key: entry}}``, one entry per settings key, so
    several settings of one model coexist. A missing, unreadable or foreign file reads as
    empty: a cache is never trusted blindly, it is recomputed. A file from before keyed
    entries (``{"model": name, "best": …}``) reads as one entry under the key ``""``.
    """
    if path is None:
        return {}
    try:
        saved = read_json(path)
    except (OSError, ValueError):
        return {}
    if not isinstance(saved, dict) or saved.get("model") != name:
        return {}
    entries = saved.get("entries")
    if isinstance(entries, dict):
        return {str(k): v for k, v in entries.items() if isinstance(v, dict)}
    if isinstance(saved.get("best"), dict):
        return {"": {"best": saved["best"]}}
    return {}


def write_entry(path: str | os.PathLike[str], name: str, key: str, entry: dict[str, Any]) -> None:
    """Add (or replace) ``entry`` under ``key`` in the keyed JSON cache ``path`` (atomically).

    The file is read again just before writing, so an entry another process added meanwhile
    is kept (a concurrent write of the same file still keeps only one of the two); a
    pre-keyed file's single entry (key ``""``) is replaced by the keyed form."""
    entries = {k: v for k, v in read_entries(path, name).items() if k}
    entries[key] = entry
    write_json(path, {"model": name, "entries": entries})


def fingerprint_files(paths: list[Path]) -> str:
    """A cheap, stable fingerprint of input files: name, size and the first/last MiB of each."""
    h = hashlib.sha256()
    for p in sorted(paths):
        st = p.stat()
        h.update(f"{p.name}:{st.st_size}".encode())
        with p.open("rb") as f:
            h.update(f.read(1 << 20))
            if st.st_size > 2 << 20:
                f.seek(-(1 << 20), os.SEEK_END)
                h.update(f.read(1 << 20))
    return h.hexdigest()[:16]


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Workspace:
    """Paths of the artefacts inside one workspace folder."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))  # a str is fine too

    @classmethod
    def open(cls, root: str | os.PathLike[str] | None = None) -> Workspace:
        return cls(Path(root) if root is not None else default_workspace())

    # --- ingested data -------------------------------------------------------------------------
    @property
    def anime(self) -> Path:
        return self.root / "anime.parquet"

    @property
    def ratings(self) -> Path:
        return self.root / "ratings.parquet"

    @property
    def rejects(self) -> Path:
        return self.root / "rejects.csv"

    @property
    def manifest(self) -> Path:
        return self.root / "manifest.json"

    # --- derived artefacts ---------------------------------------------------------------------
    def sub(self, *parts: str) -> Path:
        return self.root.joinpath(*parts)

    @property
    def embeddings_dir(self) -> Path:
        return self.root / "embeddings"

    @property
    def models_dir(self) -> Path:
        return self.root / "models"

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"

    def require_ingested(self) -> None:
        if not (self.anime.exists() and self.ratings.exists()):
            raise WorkspaceError(
                f"workspace {self.root} has no ingested data: run `animerec ingest --data DIR "
                f"--workspace {self.root}` first"
            )

    def read_manifest(self) -> dict[str, Any]:
        return read_json(self.manifest) if self.manifest.exists() else {}
