"""The learned ranker's one-user cost, stage by stage, and a check that a change keeps its lists.

Why: the ranker is served only if one user costs ≤ 10 ms p99 (issue 13 item 2), and a speed-up
must not change what it recommends. The ranker is fitted once on the DESIGN §5 training users of
WS (booster from ``WS/tuning/ranker``) and saved to ``--model`` (read back on later runs, so
before/after runs score the same fitted model). Then, for ``--users`` test users under each
protocol (hold-out, 1, 3 and 10 likes, 3 likes + 2 dislikes):

- ``--dump OUT.npz`` writes every history's full score row (one call per user and one batched
  call) and its top-10 list with reasons; ``--compare REF.npz`` checks them equal, bit for bit;
- ``--profile N`` runs N one-user ``recommend`` calls under cProfile and prints the top functions;
- always: the calling thread's CPU time per one-user ``recommend`` (p50/p99).

    HF_HUB_OFFLINE=1 nice -n 10 python benchmarks/ranker_profile.py --workspace WS \
        --model /tmp/ranker-model [--dump /tmp/before.npz | --compare /tmp/before.npz] [--profile 200]

Output files hold scores derived from the data: keep them outside the repository.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from animerec.data.ratings import History
    from animerec.workspace import Workspace

PROTOCOLS = ("holdout", "likes1", "likes3", "likes10", "likes3+d2")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workspace", "-w", required=True)
    ap.add_argument("--model", required=True, help="directory of the saved ranker (made if absent)")
    ap.add_argument("--users", type=int, default=200)
    ap.add_argument("--dump")
    ap.add_argument("--compare")
    ap.add_argument("--profile", type=int, default=0)
    ap.add_argument("--calls", type=int, default=500)
    ap.add_argument("--protocols", default=",".join(PROTOCOLS), help="comma-separated")
    args = ap.parse_args()

    import scipy.sparse  # noqa: F401  (load BLAS/OpenMP before limiting them)
    from threadpoolctl import threadpool_limits

    import animerec.recommend.registry  # noqa: F401

    with threadpool_limits(1):
        run(args)


def histories_of(
    ws: Workspace, n_users: int, protocols: list[str]
) -> tuple[list[str], list[History]]:
    """The first ``n_users`` test histories under each protocol, and each one's protocol."""
    from animerec.data.ratings import Ratings, histories_from_ratings
    from animerec.data.split import Protocol, protocol_split

    split = protocol_split(Ratings.read(ws.ratings))
    names, out = [], []
    for name in protocols:
        _, hists = histories_from_ratings(Protocol.parse(name).apply(split).history)
        names += [name] * min(n_users, len(hists))
        out += list(hists[:n_users])
    return names, out


def run(args: argparse.Namespace) -> None:
    from animerec.data.catalog import Catalog
    from animerec.data.ratings import Ratings
    from animerec.data.split import protocol_split
    from animerec.recommend.context import Context
    from animerec.recommend.ranker import RankerRecommender
    from animerec.workspace import Workspace

    ws = Workspace.open(args.workspace)
    catalog = Catalog.read(ws.anime)
    path = Path(args.model)
    if not path.exists():
        t = time.perf_counter()
        train = protocol_split(Ratings.read(ws.ratings)).train
        RankerRecommender.build({}, Context(ws)).fit(train, catalog).save(path)
        print(f"fitted and saved in {time.perf_counter() - t:.0f} s")
    model = RankerRecommender.load(path, catalog, Context(ws))
    protocols = [p.strip() for p in args.protocols.split(",") if p.strip()]
    names, hists = histories_of(ws, args.users, protocols)
    print(f"{len(hists)} histories ({', '.join(protocols)}), catalog {len(catalog)}")

    for h in hists[:30]:  # warm-up
        model.recommend([h], 10)
    cpu = np.empty(args.calls)
    for i in range(args.calls):
        h = hists[i % len(hists)]
        c = time.thread_time()
        model.recommend([h], 10)
        cpu[i] = time.thread_time() - c
    cpu *= 1000
    print(f"one-user recommend, thread CPU ms: p50 {np.percentile(cpu, 50):.2f} "
          f"p99 {np.percentile(cpu, 99):.2f} max {cpu.max():.2f} ({args.calls} calls)")  # fmt: skip

    if args.profile:
        prof = cProfile.Profile()
        prof.enable()
        for i in range(args.profile):
            model.recommend([hists[i % len(hists)]], 10)
        prof.disable()
        pstats.Stats(prof).sort_stats("cumulative").print_stats(40)
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)

    if args.dump or args.compare:
        single = np.stack([model.score([h])[0] for h in hists])
        batch = np.concatenate([model.score(hists[s : s + 300]) for s in range(0, len(hists), 300)])
        lists = [model.recommend([h], 10)[0] for h in hists]
        ids = np.array([[r.anime_id for r in x] + [-1] * (10 - len(x)) for x in lists])
        scores = np.array([[r.score for r in x] + [np.nan] * (10 - len(x)) for x in lists])
        reasons = np.array(["\n".join(r.reason for r in x) for x in lists])
        got = {"single": single, "batch": batch, "ids": ids, "scores": scores, "reasons": reasons}
        if args.dump:
            np.savez(args.dump, **got)
            print(f"wrote {args.dump}")
        if args.compare:
            ref = np.load(args.compare)
            for key, value in got.items():
                same = np.array_equal(ref[key], value, equal_nan=key in ("scores", "single"))
                rows = (
                    [int(i) for i in np.flatnonzero([not _row_equal(a, b) for a, b in
                                                     zip(ref[key], value, strict=True)])]
                    if not same else []
                )  # fmt: skip
                print(f"{key:8s} identical: {same}" + (f" (rows differing: {rows[:10]}, "
                      f"{len(rows)} of {len(value)})" if rows else ""))  # fmt: skip
            print(f"batch == single (this run): {np.array_equal(single, batch, equal_nan=True)}")


def _row_equal(a: np.ndarray, b: np.ndarray) -> bool:
    if a.dtype.kind in "fc":
        return bool(np.array_equal(a, b, equal_nan=True))
    return bool(np.array_equal(a, b))


if __name__ == "__main__":
    main()
