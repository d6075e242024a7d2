"""Memory of ``animerec serve --workers N``: RSS and PSS of every server process after a warm-up.

Why PSS: pages that several processes share (a memory-mapped model's ``.npy`` files in the page
cache) count fully in each process's RSS, so summing RSS over workers counts them N times;
PSS (``/proc/PID/smaps_rollup``) divides each page by the processes mapping it, so the sum of
PSS is what the server really costs. The figures split out the model's own files (mappings under
the served model's ``state/`` folder, from ``/proc/PID/smaps``) from everything else.

For each ``--workers`` value the real CLI is started (``--model``, rate limits off), every
worker's start-up is awaited, ``--requests`` ``POST /recommend`` calls are sent from
``--connections`` concurrent clients (liked lists of 1, 3, 5, 10 and 30 of the workspace's
best-rated titles, so every length regime of the adaptive model scores some), then the process
tree is read and the server stopped.

    python benchmarks/serve_memory.py --workspace WS --model adaptive --workers 1 4
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
from serve_load import free_port

FIELDS = ("Rss", "Pss", "Shared_Clean", "Shared_Dirty", "Private_Clean", "Private_Dirty")
LENGTHS = (1, 3, 5, 10, 30)


def kib_fields(text: str) -> dict[str, int]:
    """``Name: <n> kB`` lines of a smaps file, summed per name (KiB)."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == "kB" and parts[0].endswith(":"):
            out[parts[0][:-1]] = out.get(parts[0][:-1], 0) + int(parts[1])
    return out


def model_file_kib(pid: int, marker: str) -> dict[str, int]:
    """Rss/Pss (KiB) of the mappings of files whose path holds ``marker`` (the model's state)."""
    rss = pss = 0
    inside = False
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        head = line.split()
        if head and "-" in head[0] and len(head) >= 5 and not head[0].endswith(":"):
            inside = len(head) >= 6 and marker in head[5]
        elif inside and head[:1] == ["Rss:"]:
            rss += int(head[1])
        elif inside and head[:1] == ["Pss:"]:
            pss += int(head[1])
    return {"Rss": rss, "Pss": pss}


def tree(root: int) -> list[int]:
    """``root`` and every descendant process."""
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return sorted(out)


def measure(root: int, marker: str) -> list[dict]:
    rows = []
    for pid in tree(root):
        try:
            roll = kib_fields(Path(f"/proc/{pid}/smaps_rollup").read_text())
            model = model_file_kib(pid, marker)
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        row = {"pid": pid, "cmd": cmd[:60], **{f: roll.get(f, 0) for f in FIELDS}}
        row.update({"model_Rss": model["Rss"], "model_Pss": model["Pss"]})
        rows.append(row)
    return rows


def model_folder(workspace: Path, model: str) -> Path:
    """Where the store keeps the fit ``serve`` will load (the same key as
    :func:`animerec.recommend.store.fitted`); refuses when it is not fitted yet, so the timing of
    start-up is a load, not a fit."""
    from animerec.data.fingerprint import workspace_fingerprint
    from animerec.recommend import store
    from animerec.workspace import Workspace

    ws = Workspace.open(workspace)
    params = store.resolve_params(ws, model)
    key = store.model_key(
        model, params, workspace_fingerprint(ws), store.embedder_fingerprint(ws, params)
    )
    folder = store.store_path(ws, model, key)
    if not (folder / store.MANIFEST).exists():
        raise SystemExit(f"{model} is not fitted in {workspace} yet ({folder}): fit it first")
    return folder / store.MODEL_DIR


def bodies(workspace: Path, n: int, seed: int = 0) -> list[str]:
    """``n`` request bodies: liked lists of every length in :data:`LENGTHS`, drawn (seeded) from
    the 2,000 anime with the most ratings ≥ 9."""
    from animerec.data.ratings import Ratings

    r = Ratings.read(workspace / "ratings.parquet")
    ids, counts = np.unique(r.anime_id[r.rating >= 9], return_counts=True)
    pool = ids[np.argsort(-counts, kind="stable")[:2000]]
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        liked = rng.choice(pool, size=LENGTHS[i % len(LENGTHS)], replace=False)
        out.append(json.dumps({"liked": [int(a) for a in liked], "k": 10}))
    return out


async def send(base: str, body_list: list[str], connections: int) -> tuple[int, int, float]:
    """Send every body once; (ok, failed, seconds)."""
    import httpx

    queue = list(body_list)
    ok = failed = 0

    async def client() -> None:
        nonlocal ok, failed
        async with httpx.AsyncClient(base_url=base, timeout=120) as c:
            while queue:
                body = queue.pop()
                res = await c.post(
                    "/recommend", content=body, headers={"Content-Type": "application/json"}
                )
                ok, failed = (ok + 1, failed) if res.status_code == 200 else (ok, failed + 1)

    t = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(connections)))
    return ok, failed, time.perf_counter() - t


def start(workspace: Path, model: str, workers: int, port: int, db: str) -> subprocess.Popen:
    cmd = [
        sys.executable, "-c", "from animerec.cli import main; main()", "serve",
        "-w", str(workspace), "--port", str(port), "--db", db, "--model", model,
        "--workers", str(workers), "--log-level", "info",
        "--user-rate", "off", "--write-rate", "off",
    ]  # fmt: skip
    return subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )


def wait_started(proc: subprocess.Popen, workers: int, timeout: float, log: list[str]) -> None:
    """Until every worker logged uvicorn's start-up line (each loaded the models by then)."""

    def reader() -> None:
        for line in proc.stdout:
            log.append(line)

    threading.Thread(target=reader, daemon=True).start()
    deadline = time.monotonic() + timeout
    while sum("Application startup complete" in line for line in log) < workers:
        if proc.poll() is not None:
            raise SystemExit("the server exited:\n" + "".join(log)[-3000:])
        if time.monotonic() > deadline:
            raise SystemExit(f"{workers} workers did not start in {timeout:.0f} s")
        time.sleep(0.5)


def stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGINT)  # the group this script started: uvicorn shuts down
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def gib(kib: int) -> str:
    return f"{kib / 2**20:.2f}"


def report(workers: int, rows: list[dict]) -> dict:
    print(f"\n--workers {workers}: {len(rows)} processes (GiB)")
    print(f"{'pid':>8} {'RSS':>6} {'PSS':>6} {'shared':>7} {'private':>7} {'model RSS':>9} "
          f"{'model PSS':>9}  command")  # fmt: skip
    for r in rows:
        shared = r["Shared_Clean"] + r["Shared_Dirty"]
        private = r["Private_Clean"] + r["Private_Dirty"]
        print(
            f"{r['pid']:>8} {gib(r['Rss']):>6} {gib(r['Pss']):>6} {gib(shared):>7} "
            f"{gib(private):>7} {gib(r['model_Rss']):>9} {gib(r['model_Pss']):>9}  {r['cmd']}"
        )
    total = {k: sum(r[k] for r in rows) for k in (*FIELDS, "model_Rss", "model_Pss")}
    print(
        f"{'total':>8} {gib(total['Rss']):>6} {gib(total['Pss']):>6} "
        f"{'':>7} {'':>7} {gib(total['model_Rss']):>9} {gib(total['model_Pss']):>9}"
    )
    return {"workers": workers, "processes": rows, "total_kib": total}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workspace", type=Path, required=True)
    ap.add_argument("--model", default="adaptive")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 4])
    ap.add_argument("--requests", type=int, default=400)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--startup-timeout", type=float, default=1800)
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()

    import animerec

    print(f"animerec from {Path(animerec.__file__).parent}; workspace {args.workspace}")
    marker = str(model_folder(args.workspace, args.model))
    files = sorted(p.name for p in Path(marker).iterdir())
    print(f"model files under {marker}: {', '.join(files)}")
    body_list = bodies(args.workspace, args.requests)
    results = []
    for workers in args.workers:
        port = free_port()
        db = f"sqlite:///{args.workspace / f'serve-memory-{workers}.db'}"
        proc, log = start(args.workspace, args.model, workers, port, db), []
        try:
            t = time.perf_counter()
            wait_started(proc, workers, args.startup_timeout, log)
            started = time.perf_counter() - t
            ok, failed, secs = asyncio.run(
                send(f"http://127.0.0.1:{port}", body_list, args.connections)
            )
            print(
                f"\n--workers {workers}: started in {started:.0f} s; {ok} requests ok, "
                f"{failed} failed in {secs:.1f} s"
            )
            time.sleep(2)
            results.append({**report(workers, measure(proc.pid, marker)), "ok": ok})
        finally:
            stop(proc)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
