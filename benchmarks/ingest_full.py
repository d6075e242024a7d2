"""Full-size ingest proof: wall time and peak RSS of `animerec ingest` on synthetic ratings.

Writes ratings with the sample's distributions (benchmarks/synth.py) into a temporary folder — never
the repo — beside the sample's anime files, then runs the real CLI under ``/usr/bin/time -v``. The
baseline in the same run is pandas doing the least an ingest must do (read, drop duplicates, sort)
without any validation.

    python benchmarks/ingest_full.py                      # 57 M rows (the full rating_complete.csv)
    python benchmarks/ingest_full.py --rows 278462 1113848 4455392   # 1×, 4×, 16× the sample
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synth import SAMPLE, synth_ratings  # noqa: E402

PANDAS_BASELINE = """
import sys, pandas as pd
df = pd.read_csv(sys.argv[1], dtype={"user_id": "int64", "anime_id": "int64", "rating": "int8"})
df = df.drop_duplicates(["user_id", "anime_id"]).sort_values(["user_id", "anime_id"])
df.to_parquet(sys.argv[2], index=False)
"""


def timed(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS GiB) of ``cmd`` measured by GNU time."""
    p = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed:\n{p.stderr[-2000:]}")
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", p.stderr).group(1)
    secs = sum(float(x) * 60**i for i, x in enumerate(reversed(wall.split(":"))))
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr).group(1))
    return secs, rss / 2**20


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[57_000_000])
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument(
        "--tmp", type=Path, default=None, help="scratch folder (default: a new temp dir)"
    )
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="animerec-ingest-bench-", dir=args.tmp))
    animerec = str(Path(sys.executable).with_name("animerec"))
    print(f"{'rows':>12} {'ingest s':>9} {'ingest GiB':>10} {'pandas s':>9} {'pandas GiB':>10}")
    try:
        for n in args.rows:
            data = root / f"data-{n}"
            data.mkdir()
            for f in ("anime.csv", "anime_with_synopsis.csv"):
                shutil.copy(SAMPLE / f, data / f)
            written = synth_ratings(n, data / "rating_complete.csv")
            secs, gib = timed(
                [animerec, "ingest", "--data", str(data), "-w", str(root / f"ws-{n}")]
            )
            base = ("", "")
            if not args.no_baseline:
                b = timed(
                    [
                        sys.executable,
                        "-c",
                        PANDAS_BASELINE,
                        str(data / "rating_complete.csv"),
                        str(root / "pd.parquet"),
                    ]
                )
                base = (f"{b[0]:.1f}", f"{b[1]:.2f}")
            print(
                f"{written:>12,} {secs:>9.1f} {gib:>10.2f} {base[0]:>9} {base[1]:>10}", flush=True
            )
            shutil.rmtree(data)
            shutil.rmtree(root / f"ws-{n}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
