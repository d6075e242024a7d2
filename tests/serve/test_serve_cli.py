"""`animerec serve` starts uvicorn on the workspace: the API answers, the database lands in it."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cli(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", "from animerec.cli import main; main()", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **kw,
    )


@pytest.mark.parametrize("workers", [1, 2])
def test_serve_command_answers_on_loopback(tiny_workspace, tmp_path, workers: int) -> None:
    port = _free_port()
    db = tmp_path / "cli.db"
    proc = _cli(
        "serve", "-w", str(tiny_workspace.root), "--port", str(port), "--db", f"sqlite:///{db}",
        "--model", "popularity", "--model", "ease", "--log-level", "warning",
        "--workers", str(workers),
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.stdout.read()
            try:
                health = httpx.get(base + "/health", timeout=2).json()
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "animerec serve did not come up"
                time.sleep(0.3)
        assert health["models"] == ["popularity", "ease"] and health["default_model"] == "ease"
        new = httpx.post(base + "/users", json={}).json()
        uid, auth = new["id"], {"Authorization": f"Bearer {new['token']}"}
        r = httpx.put(f"{base}/users/{uid}/ratings/1", json={"rating": 8}, headers=auth)
        assert r.status_code == 200
        assert db.exists()
        for _ in range(6):  # fresh connections: with 2 workers, both see the shared database
            with httpx.Client() as c:
                got = c.get(f"{base}/users/{uid}", headers=auth).json()
                assert got["ratings"][0]["rating"] == 8
        r = httpx.post(base + "/recommend", json={"liked": ["Trigun"], "k": 3})
        assert r.status_code == 200 and len(r.json()["items"]) == 3
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_serve_command_fails_cleanly_without_ingested_data(tmp_path) -> None:
    proc = _cli("serve", "-w", str(tmp_path / "nothing"), "--port", str(_free_port()))
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert out.startswith("error: ") and "ingest" in out
    assert len(out.strip().splitlines()) == 1


def test_serve_command_rejects_an_unknown_model(tiny_workspace, tmp_path) -> None:
    proc = _cli(
        "serve", "-w", str(tiny_workspace.root), "--port", str(_free_port()),
        "--db", f"sqlite:///{tmp_path / 'x.db'}", "--model", "nope",
    )  # fmt: skip
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 1
    assert out.startswith("error: unknown model 'nope'") and len(out.strip().splitlines()) == 1
