"""Paired Δ between two runs of the EASE study (issue 13/16): the same family with two text
sides, or one family against another, on the same validation users.

Two study folders (``benchmarks/ease_study.py --out``), e.g. one run with ``--embedder minilm``
and one with an adapter trained on the training users minus the validation users. Each entry
``RUN:family`` is cross-fitted as the study does (setting chosen on one half of the users,
scored on the other, halves pooled; a family that ``extends`` another, like ``l3ae+``, counts
as part of it), and each pair's per-user difference gets a percentile-bootstrap 95% CI. The
users are the same in every run (seeded), which is checked.

    nice -n 10 python benchmarks/text_side_compare.py --run ft=WS/reports/ease_study_ft \\
        --run base=WS/reports/ease_study --pair ft:l3ae,base:l3ae --pair ft:l3ae,base:ease
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from animerec.evaluate.metrics import bootstrap_ci

sys.path.insert(0, str(Path(__file__).resolve().parent))  # ease_study beside this script
from ease_study import crossfit, load_rows  # noqa: E402

__all__ = ["compare", "crossfitted"]

EXTENSIONS = {"ease": ("ease+",), "l3ae": ("l3ae+",)}
"""Families whose rows join another's (the study's ``extends``)."""


def family_rows(folder: Path, family: str) -> dict[str, list]:
    """``family``'s rows in a study folder (``folder/rows``), its extensions' rows added."""
    rows = load_rows(family, folder / "rows")
    if rows is None:
        raise SystemExit(f"{folder / 'rows'} has no rows of {family!r}: run the study with it")
    for extra in EXTENSIONS.get(family, ()):
        more = load_rows(extra, folder / "rows")
        for proto, r in (more or {}).items():
            rows[proto] = rows[proto] + r
    return rows


def crossfitted(rows: list) -> tuple[np.ndarray, dict, list[dict]]:
    """Per-user out-of-sample NDCG of one family in one protocol, the choice over all users and
    each half's choice."""
    nd = np.stack([r[1]["ndcg"] for r in rows])
    picks, best = crossfit(nd)
    oos = np.empty(nd.shape[1])
    for fold, c in picks:
        oos[fold] = nd[c, fold]
    return oos, rows[best][0], [rows[c][0] for _, c in picks]


def compare(a: dict[str, list], b: dict[str, list]) -> dict[str, dict]:
    """Per protocol both sides: ``a``'s and ``b``'s cross-fitted NDCG, their choices and the
    paired Δ ``a − b``."""
    out = {}
    for proto in (p for p in a if p in b):
        va, best_a, _ = crossfitted(a[proto])
        vb, best_b, _ = crossfitted(b[proto])
        if len(va) != len(vb):
            raise SystemExit(f"{proto}: {len(va)} users against {len(vb)}: not the same users")
        out[proto] = {
            "n_users": len(va),
            "a": float(va.mean()),
            "b": float(vb.mean()),
            "delta": bootstrap_ci(va - vb).as_dict(),
            "a_best": best_a,
            "b_best": best_b,
        }
    return out


def markdown(results: dict[str, dict]) -> str:
    protos = list(dict.fromkeys(p for r in results.values() for p in r if "+d" not in p))
    lines = ["| a − b | " + " | ".join(protos) + " |", "|---|" + "---|" * len(protos)]
    for pair, r in results.items():
        cells = []
        for p in protos:
            c = r.get(p)
            d = c and c["delta"]
            cells.append(
                "–"
                if c is None
                else f"{c['a']:.3f} vs {c['b']:.3f}: {d['mean']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}]"
            )
        lines.append(f"| {pair} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", action="append", required=True, help="NAME=STUDY_FOLDER")
    ap.add_argument("--pair", action="append", required=True, help="RUN:family,RUN:family")
    ap.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    a = ap.parse_args()
    runs = dict(r.split("=", 1) for r in a.run)
    results = {}
    for pair in a.pair:
        sides = []
        for entry in pair.split(","):
            run, _, family = entry.partition(":")
            if run not in runs or not family:
                raise SystemExit(f"--pair {pair!r}: {entry!r} is not RUN:family of {list(runs)}")
            sides.append(family_rows(Path(runs[run]), family))
        if len(sides) != 2:
            raise SystemExit(f"--pair {pair!r} names {len(sides)} entries, not 2")
        results[pair.replace(",", " − ")] = compare(*sides)
    print(markdown(results))
    if a.out is not None:
        tmp = a.out.with_suffix(".tmp")
        tmp.write_text(json.dumps(results, indent=2) + "\n")
        tmp.replace(a.out)


if __name__ == "__main__":
    main()
