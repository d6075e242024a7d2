"""kill -9 the server (``animerec serve``, a real uvicorn process) in the middle of a burst of
authenticated writes: the database opens, passes SQLite's integrity check, and holds every write
the server acknowledged — users and ratings — with nothing half-written."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time

import httpx

from animerec.serve.db import FeedbackStore

WRITERS = 8


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_kill_9_during_a_write_burst_loses_no_acknowledged_write(tiny_workspace, tmp_path) -> None:
    port, db = _free_port(), tmp_path / "burst.db"
    proc = subprocess.Popen(
        [sys.executable, "-c", "from animerec.cli import main; main()", "serve",
         "-w", str(tiny_workspace.root), "--port", str(port), "--db", f"sqlite:///{db}",
         "--model", "popularity", "--log-level", "warning",
         "--user-rate", "off", "--write-rate", "off"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    acked: list[tuple[str, int, int]] = []  # (public id, anime, rating) answered 200
    users: list[tuple[str, str]] = []  # (public id, token) answered 201
    lock, stop = threading.Lock(), threading.Event()

    def writer(seed: int) -> None:
        with httpx.Client(base_url=base, timeout=10) as c:
            while not stop.is_set():
                try:
                    r = c.post("/users", json={})
                    if r.status_code != 201:
                        continue
                    u = r.json()
                    with lock:
                        users.append((u["id"], u["token"]))
                    auth = {"Authorization": f"Bearer {u['token']}"}
                    for a in range(1, 13):  # every key written once: stored must equal acked
                        rating = (seed + a) % 10 + 1
                        r = c.put(f"/users/{u['id']}/ratings/{a}", json={"rating": rating},
                                  headers=auth)  # fmt: skip
                        if r.status_code == 200:
                            with lock:
                                acked.append((u["id"], a, rating))
                except httpx.TransportError:
                    return  # the server is gone

    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.stdout.read().decode()
            try:
                httpx.get(base + "/health", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "animerec serve did not come up"
                time.sleep(0.3)
        threads = [threading.Thread(target=writer, args=(i,)) for i in range(WRITERS)]
        for t in threads:
            t.start()
        while len(acked) < 150:  # well into the burst
            assert time.monotonic() < deadline + 120, "too few writes acknowledged"
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        stop.set()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    for t in threads:
        t.join(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert con.execute("PRAGMA foreign_key_check").fetchall() == []
    assert con.execute(
        "SELECT count(*) FROM ratings WHERE rating NOT BETWEEN 1 AND 10"
    ).fetchone() == (0,)
    con.close()
    store = FeedbackStore(f"sqlite:///{db}")
    try:
        ids = {}
        for public_id, _ in users:
            cred = store.credentials(public_id)
            assert cred is not None, f"acknowledged user {public_id} is missing"
            ids[public_id] = cred[0]
        stored = {(u, a): r for u, a, r in store.iter_ratings()}
        lost = [(p, a, r) for p, a, r in acked if stored.get((ids[p], a)) != r]
        assert lost == [], f"{len(lost)} of {len(acked)} acknowledged writes lost"
        assert len(stored) >= len(acked)  # plus any write stored but not yet answered
    finally:
        store.close()
