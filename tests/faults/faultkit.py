"""Helpers of the fault tests: snapshot a folder; run a command until its Nth publishing
rename, then kill -9 (a module of its own: ``conftest`` is a name every test folder shares)."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from killhook import command

ROOT = Path(__file__).resolve().parents[2]


def snapshot(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root`` outside dot folders (the published artefacts)."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if p.is_file() and not any(part.startswith(".") for part in rel.parts):
            out[str(rel)] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def kill_at_rename(args: list[str], under: Path, tmp: Path, at: int = 1) -> str:
    """Run ``animerec ARGS``, kill -9 it at its ``at``-th publishing rename under ``under``;
    returns the destination it was about to publish."""
    marker = tmp / f"killhook-{at}.marker"
    marker.unlink(missing_ok=True)
    env = {
        **os.environ,
        "KILLHOOK_UNDER": str(under),
        "KILLHOOK_AT": str(at),
        "KILLHOOK_MARKER": str(marker),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    log = tmp / f"killhook-{at}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(command(*args), env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 300
        while not marker.exists():
            if proc.poll() is not None:
                pytest.fail(
                    f"exited {proc.returncode} before rename {at}:\n{log.read_text()[-3000:]}"
                )
            assert time.monotonic() < deadline, "the command never reached its rename"
            time.sleep(0.05)
        time.sleep(0.05)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    return marker.read_text()
