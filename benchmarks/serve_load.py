"""Load benchmark of ``POST /recommend`` (k = 10) against ``animerec serve`` on loopback.

Starts the real CLI (one uvicorn process) on a workspace, then drives it with ``wrk`` (apt package
``wrk``; a C load generator, so the client takes little of the 2 cores) or, without wrk, an
asyncio httpx client loop. Each run lasts ``--duration`` seconds after a warm-up. Request bodies
cycle through real histories: for each of ``--bodies`` sampled workspace users, 3–10 of the
titles they rated 9–10, sent as ``liked`` ids. The baseline in the same run is ``GET /health``
(the server stack with no model work), so the ratio says what scoring costs.

    python benchmarks/serve_load.py --workspace WS                  # hybrid if served, else ease
    python benchmarks/serve_load.py --workspace WS --model ease --duration 20 --connections 8
    python benchmarks/serve_load.py --workspace WS --profile mixed --clients 20

``--profile mixed`` (httpx, asyncio): ``--clients`` users, each created first with
``POST /users`` and then, for ``--duration`` seconds, sending one request after another — a
rating write (``PUT /users/{id}/ratings/{anime}`` with the user's bearer token) with
probability ``--write-share``, else ``POST /recommend``. Afterwards every user is read back
(``GET /users/{id}``, authenticated) and each acknowledged rating (the last one per anime, the
requests of one client being sequential) must be stored: lost writes are counted. The server runs
with its rate limits off (every client is 127.0.0.1), the rest of the protection on.

Prints req/s, p50 and p99 per target and a Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bodies(workspace: Path, n: int, k: int, model: str, seed: int = 0) -> list[str]:
    """JSON bodies from real users: 3–10 of the anime each rated 9–10, as liked ids."""
    from animerec.data.ratings import Ratings

    r = Ratings.read(workspace / "ratings.parquet")
    top = r.take(r.rating >= 9)
    order = np.argsort(top.user_id, kind="stable")
    users, starts = np.unique(top.user_id[order], return_index=True)
    ends = np.append(starts[1:], len(order))
    anime = top.anime_id[order]
    rng = np.random.default_rng(seed)
    out = []
    for i in rng.permutation(len(users)):
        ids = anime[starts[i] : ends[i]]
        if len(ids) < 3:
            continue
        pick = rng.choice(ids, size=min(len(ids), int(rng.integers(3, 11))), replace=False)
        out.append(json.dumps({"liked": [int(a) for a in pick], "k": k, "model": model}))
        if len(out) == n:
            break
    return out


def start_server(
    workspace: Path, model: str, port: int, db: str, cpus: str | None, workers: int, log: Path
) -> subprocess.Popen:
    """The CLI's server, its output to ``log``: a pipe nobody reads would fill after ~64 KB of
    log lines (a few tracebacks) and then block the server mid-run."""
    cmd = [
        sys.executable, "-c", "from animerec.cli import main; main()", "serve",
        "-w", str(workspace), "--port", str(port), "--db", db, "--model", model,
        "--workers", str(workers), "--log-level", "warning",
        "--user-rate", "off", "--write-rate", "off",  # every load client is 127.0.0.1
    ]  # fmt: skip
    if cpus and shutil.which("taskset"):
        cmd = ["taskset", "-c", cpus, *cmd]
    with open(log, "w") as out:  # the child keeps its own descriptor
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, text=True)


def wait_ready(proc: subprocess.Popen, base: str, timeout: float, log: Path) -> dict:
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited:\n{log.read_text()[-3000:]}")
        try:
            return httpx.get(base + "/health", timeout=2).json()
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise SystemExit("the server did not start in time") from None
            time.sleep(0.5)


# --- load generators ------------------------------------------------------------------------------
WRK_LUA = """
bodies = {%s}
i = 0
request = function()
  i = (i %% #bodies) + 1
  return wrk.format("%s", "%s", {["Content-Type"] = "application/json"}, bodies[i])
end
"""


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    value, unit = float(m.group(1)), m.group(2)
    return value * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[unit]


def run_wrk(url: str, method: str, path: str, body_list: list[str], duration: int, conns: int,
            threads: int, cpus: str | None) -> dict:  # fmt: skip
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        quoted = ", ".join(json.dumps(b) for b in body_list) if body_list else '""'
        f.write(WRK_LUA % (quoted, method, path))
        script = f.name
    cmd = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{duration}s", "--latency", "-s", script, url]
    if cpus and shutil.which("taskset"):
        cmd = ["taskset", "-c", cpus, *cmd]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    os.unlink(script)
    pct = dict(re.findall(r"^\s+(\d+)%\s+(\S+)\s*$", out, re.M))
    if "99" not in pct:
        raise SystemExit(f"wrk gave no latency distribution:\n{out}")
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_ms": _ms(pct["50"]),
        "p99_ms": _ms(pct["99"]),
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
        "errors": (int(non2xx.group(1)) if non2xx else 0),
        "socket_errors": errors.group(1) if errors else "",
        "tool": "wrk",
    }


async def _httpx_loop(
    url: str, method: str, body_list: list[str], duration: int, conns: int
) -> dict:
    import httpx

    lat: list[float] = []
    errors = 0
    stop = time.perf_counter() + duration
    limits = httpx.Limits(max_connections=conns, max_keepalive_connections=conns)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def worker(w: int) -> None:
            nonlocal errors
            i = w
            while time.perf_counter() < stop:
                t0 = time.perf_counter()
                if method == "POST":
                    r = await client.post(url, content=body_list[i % len(body_list)],
                                          headers={"content-type": "application/json"})  # fmt: skip
                else:
                    r = await client.get(url)
                lat.append(time.perf_counter() - t0)
                errors += r.status_code >= 300
                i += conns

        t0 = time.perf_counter()
        await asyncio.gather(*(worker(w) for w in range(conns)))
        wall = time.perf_counter() - t0
    return _summary(lat, wall, errors)


def _summary(lat: list[float], wall: float, errors: int) -> dict:
    ms = np.asarray(lat) * 1e3 if lat else np.zeros(1)
    return {
        "rps": len(lat) / wall,
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "requests": len(lat),
        "errors": errors,
        "socket_errors": "",
        "tool": "httpx",
    }


async def _mixed(
    base: str, body_list: list[str], anime: list[int], duration: int, clients: int, share: float
) -> dict:
    """Recommend + authenticated writes from ``clients`` users; then checks every ack is stored."""
    import httpx

    lat = {"recommend": [], "write": []}
    errors = {"recommend": 0, "write": 0}
    acked: list[dict[int, int]] = [{} for _ in range(clients)]
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    json_ct = {"content-type": "application/json"}
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        users = []
        for _ in range(clients):
            r = await client.post("/users", content=b"{}", headers=json_ct)
            r.raise_for_status()
            u = r.json()
            users.append((u["id"], {"Authorization": f"Bearer {u['token']}", **json_ct}))
        stop = time.perf_counter() + duration

        async def worker(w: int) -> None:
            rng = np.random.default_rng(w)
            uid, auth = users[w]
            i = w
            while time.perf_counter() < stop:
                t0 = time.perf_counter()
                if rng.random() < share:
                    a, rating = int(rng.choice(anime)), int(rng.integers(1, 11))
                    r = await client.put(f"/users/{uid}/ratings/{a}",
                                         content=json.dumps({"rating": rating}), headers=auth)  # fmt: skip
                    kind = "write"
                    if r.status_code == 200:
                        acked[w][a] = rating
                else:
                    r = await client.post("/recommend", content=body_list[i % len(body_list)],
                                          headers=json_ct)  # fmt: skip
                    kind = "recommend"
                    i += clients
                lat[kind].append(time.perf_counter() - t0)
                errors[kind] += r.status_code >= 300

        t0 = time.perf_counter()
        await asyncio.gather(*(worker(w) for w in range(clients)))
        wall = time.perf_counter() - t0
        lost = 0
        for (uid, auth), want in zip(users, acked, strict=True):
            r = await client.get(f"/users/{uid}", headers=auth)
            stored = {x["anime_id"]: x["rating"] for x in r.json()["ratings"]}
            lost += sum(stored.get(a) != v for a, v in want.items())
    every = lat["recommend"] + lat["write"]
    out = {k: _summary(v, wall, errors[k]) for k, v in lat.items()}
    out["all"] = _summary(every, wall, sum(errors.values()))
    out["all"]["acked_writes"] = sum(len(a) for a in acked)
    out["all"]["lost_writes"] = lost
    return out


def load(base: str, method: str, path: str, body_list: list[str], args) -> dict:
    if args.tool == "wrk":
        return run_wrk(base + path, method, path, body_list, args.duration, args.connections,
                       args.threads, args.client_cpus)  # fmt: skip
    return asyncio.run(_httpx_loop(base + path, method, body_list, args.duration, args.connections))


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--workspace",
        type=Path,
        default=Path(os.environ.get("ANIMEREC_WORKSPACE", "animerec-workspace")),
    )
    ap.add_argument(
        "--model", default=None, help="default: hybrid if the registry has it, else ease"
    )
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--duration", type=int, default=20, help="seconds per measured run")
    ap.add_argument("--warmup", type=int, default=3, help="seconds of unmeasured load first")
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--threads", type=int, default=1, help="wrk threads")
    ap.add_argument("--bodies", type=int, default=500)
    ap.add_argument(
        "--tool", choices=["wrk", "httpx"], default="wrk" if shutil.which("wrk") else "httpx"
    )
    ap.add_argument(
        "--server-cpus", default=None, help="taskset CPU list for the server (e.g. 0,1)"
    )
    ap.add_argument("--client-cpus", default=None, help="taskset CPU list for wrk")
    ap.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    ap.add_argument("--startup-timeout", type=float, default=1800)
    ap.add_argument(
        "--profile",
        choices=["reads", "mixed"],
        default="reads",
        help="reads: POST /recommend alone (and the /health baseline); mixed: recommend + writes",
    )
    ap.add_argument("--clients", type=int, default=20, help="mixed: concurrent users")
    ap.add_argument("--write-share", type=float, default=0.3, help="mixed: share of writes")
    args = ap.parse_args()

    from animerec.recommend.registry import RECOMMENDERS

    model = args.model or ("hybrid" if "hybrid" in RECOMMENDERS else "ease")
    body_list = bodies(args.workspace, args.bodies, args.k, model)
    tmp = Path(tempfile.mkdtemp(prefix="serve-load-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    t0 = time.perf_counter()
    db = f"sqlite:///{tmp / 'feedback.db'}"
    server_log = tmp / "server.log"
    proc = start_server(args.workspace, model, port, db, args.server_cpus, args.workers, server_log)
    try:
        health = wait_ready(proc, base, args.startup_timeout, server_log)
        startup = time.perf_counter() - t0
        print(f"server up in {startup:.1f} s, serving {health['models']} with {args.workers} "
              f"worker(s) ({args.tool}, {args.connections} connections, {args.duration} s runs)",
              flush=True)  # fmt: skip
        warm = argparse.Namespace(**{**vars(args), "duration": args.warmup})
        load(base, "POST", "/recommend", body_list, warm)
        rec = load(base, "POST", "/recommend", body_list, args)
        base_line = load(base, "GET", "/health", [], args)
        mixed = None
        if args.profile == "mixed":
            anime = sorted({a for b in body_list for a in json.loads(b)["liked"]})
            mixed = asyncio.run(_mixed(base, body_list, anime, args.duration, args.clients,
                                       args.write_share))  # fmt: skip
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        logged = server_log.read_text(errors="replace")
        shutil.rmtree(tmp, ignore_errors=True)
    tracebacks = logged.count("Traceback (most recent call last)")
    if tracebacks:  # a 5xx is a bug whatever the speed: show the last one
        print(f"server log: {tracebacks} traceback(s); the last one:\n"
              f"{logged[logged.rindex('Traceback'):][-3000:]}")  # fmt: skip

    rows = [(f"POST /recommend ({model}, k={args.k})", rec), ("GET /health (baseline)", base_line)]
    if mixed is not None:
        rows += [
            (f"mixed, {args.clients} clients: all", mixed["all"]),
            ("mixed: POST /recommend", mixed["recommend"]),
            ("mixed: PUT rating (authenticated)", mixed["write"]),
        ]
    for name, r in rows:
        print(f"{name}: {r['rps']:.0f} req/s, p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, "
              f"{r['requests']} requests, {r['errors']} non-2xx {r['socket_errors']}")  # fmt: skip
    print()
    print("| target | req/s | p50 ms | p99 ms | requests | non-2xx |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, r in rows:
        print(
            f"| {name} | {r['rps']:.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['requests']} | {r['errors']} |"
        )
    ratio = rec["rps"] / base_line["rps"] if base_line["rps"] else float("nan")
    print(f"\nrecommend / baseline throughput: {ratio:.2f}")
    ok = rec["rps"] >= 300 and rec["p99_ms"] <= 50 and rec["errors"] == 0 and not tracebacks
    print(f"target (>= 300 req/s, p99 <= 50 ms, no errors): {'met' if ok else 'NOT met'}")
    if mixed is not None:
        m = mixed["all"]
        print(f"mixed: {m['acked_writes']} acknowledged writes, {m['lost_writes']} lost, "
              f"{m['errors']} errors; mixed / baseline throughput: "
              f"{m['rps'] / base_line['rps']:.2f}")  # fmt: skip
        if m["lost_writes"] or m["errors"]:
            raise SystemExit("mixed profile: errors or lost writes")


if __name__ == "__main__":
    main()
