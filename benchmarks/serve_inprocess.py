"""CPU time of one ``POST /recommend``'s work inside the server, without HTTP.

``ServeState.recommend`` (the model, the ranking pipeline, reasons, response items) over the
load benchmark's request bodies (:func:`serve_load.bodies`), BLAS on one thread as the server
runs it, timed by the calling thread's CPU time (what a busy machine does not inflate). What
``serve_load.py`` measures minus the HTTP stack and the queueing.

    python benchmarks/serve_inprocess.py --workspace WS --model hybrid --calls 1500
    python benchmarks/serve_inprocess.py --workspace WS --model hybrid --calls 800 --profile
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))

from serve_load import bodies  # noqa: E402

from animerec.data.ratings import History  # noqa: E402
from animerec.serve.state import ServeState  # noqa: E402
from animerec.workspace import Workspace  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workspace", "-w", required=True, type=Path)
    ap.add_argument("--model", default="hybrid")
    ap.add_argument("--calls", type=int, default=1500)
    ap.add_argument("--profile", action="store_true", help="cProfile instead of timing")
    a = ap.parse_args()
    db = f"sqlite:///{Path('/tmp') / 'serve-inprocess.db'}"
    s = ServeState.load(Workspace(a.workspace), db_url=db, models=[a.model],
                        default_model=a.model, embedder=None, description_variant="clean")  # fmt: skip
    hs = [
        History.of(b["liked"], [10] * len(b["liked"]))
        for b in map(json.loads, bodies(a.workspace, 500, 10, a.model))
    ]
    with threadpool_limits(1):
        for h in hs[:50]:  # warm the lazily built caches
            s.recommend(h, 10, a.model, 0.0)
        if a.profile:
            pr = cProfile.Profile()
            pr.enable()
        cpu = np.empty(a.calls)
        for i in range(a.calls):
            t = time.thread_time()
            s.recommend(hs[i % len(hs)], 10, a.model, 0.0)
            cpu[i] = time.thread_time() - t
        if a.profile:
            pr.disable()
            pstats.Stats(pr).sort_stats("cumulative").print_stats(35)
            return
    ms = cpu * 1e3
    print(f"{a.model}: CPU per request p50 {np.percentile(ms, 50):.2f} ms, p90 "
          f"{np.percentile(ms, 90):.2f}, p99 {np.percentile(ms, 99):.2f}, mean {ms.mean():.2f} "
          f"({a.calls} calls)")  # fmt: skip


if __name__ == "__main__":
    main()
