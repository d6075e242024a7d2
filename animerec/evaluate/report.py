"""The report folder of one evaluation: ``report.md``, ``metrics.json`` and the PNG figures.

The folder is built under a temporary name and renamed into place, so a report is either whole
or absent.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from animerec.evaluate.franchise import __doc__ as _franchise_doc
from animerec.evaluate.metrics import RANK_BUCKETS, Ci
from animerec.evaluate.plots import plot_explore, plot_metrics, plot_nps_buckets
from animerec.evaluate.protocol_report import plot_ndcg_by_likes, protocols_markdown
from animerec.evaluate.runner import Evaluation
from animerec.workspace import atomic_path, now_iso

PLOTS = {
    "metrics.png": plot_metrics,
    "nps_buckets.png": plot_nps_buckets,
    "explore.png": plot_explore,
}
TIMING_KEYS = frozenset({"fit_s", "recommend_s", "tune_s", "created"})
"""Keys of ``metrics.json`` whose values are wall-clock dependent (everything else is reproducible)."""


def _clean(obj: Any) -> Any:
    """JSON-safe copy: NaN/inf → null (strict JSON has no NaN)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    return obj


def metrics_dict(ev: Evaluation, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    s = ev.settings
    return _clean(
        {
            "created": now_iso(),
            "settings": {
                "k": s.k,
                "explore": list(s.explore),
                "seed": s.seed,
                "n_bootstrap": s.n_bootstrap,
                "ci_level": 0.95,
                "tuned": s.tune,
                "spread": asdict(s.spread) if s.spread is not None else None,
                "dislike_strength": s.dislike_strength,
                "min_raters": s.min_raters,
                "models": [r.model for r in ev.results],
            },
            "split": ev.split,
            "data_fingerprint": ev.data_fingerprint,
            **(extra or {}),
            "results": [r.as_dict() for r in ev.results],
            **({"protocols": ev.protocols} if ev.protocols is not None else {}),
        }
    )


# --- Markdown -------------------------------------------------------------------------------------
def _f(x: float | None, digits: int = 3) -> str:
    return (
        "–" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:.{digits}f}"
    )


def _ci(c: Ci | dict, digits: int = 3) -> str:
    d = c.as_dict() if isinstance(c, Ci) else c
    if d["mean"] is None or not math.isfinite(d["mean"]):
        return "–"
    return f"{d['mean']:.{digits}f} [{_f(d['low'], digits)}, {_f(d['high'], digits)}]"


def _pct(x: float) -> str:
    return "–" if not math.isfinite(x) else f"{100 * x:.1f}%"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


def render_markdown(ev: Evaluation, title: str = "Evaluation") -> str:
    s, sp, res = ev.settings, ev.split, ev.results
    k = s.k
    lines = [
        f"# {title}",
        "",
        f"Protocol of DESIGN §5: seed {s.seed}; {sp['n_train_users']:,} training users, "
        f"{sp['n_test_users']:,} test users (≥ 10 ratings, 20% of each held out), of whom "
        f"{sp['n_counted_users'] or 0:,} have ≥ 1 relevant held-out item (rating ≥ 9) and count for "
        f"ranking metrics. k = {k}; 95% CIs from {s.n_bootstrap:,} bootstrap resamples of users "
        f"(seed {s.seed}). Data fingerprint `{ev.data_fingerprint}`.",
        *(
            [
                "",
                f"**Spread over the catalog**: every list keeps its first {s.spread.keep} anime; "
                f"each other slot takes, from the user's own top {s.spread.window}, the anime "
                "recommended least to the other test users so far (seed "
                f"{s.spread.seed}; `animerec.recommend.spread`). The cold-start and exploration "
                "lists below are not spread.",
            ]
            if s.spread is not None
            else []
        ),
        "",
        (
            f"**No filler** (as served): titles fewer than "
            f"{sp.get('low_evidence_below', s.min_raters)} training users rated "
            f"({sp.get('n_low_evidence_items', 0):,} of {sp['n_catalog']:,}) enter a list at "
            "explore 0 only as one labelled new title, where the model ranks them in its top k "
            "(`animerec.recommend.evidence`); the cold-start lists below are asked among new "
            "titles and not held back."
            if s.min_raters > 0
            else "**No filler rule** (`--min-raters 0`): lists as the models rank them."
        ),
        "",
        "## Accuracy and beyond",
        "",
    ]
    rows = [
        [
            r.model,
            _ci(r.ndcg),
            _ci(r.hr),
            _ci(r.recall),
            f"{_f(r.nps.value, 3)} ({r.nps.n:,})",
            _pct(r.coverage),
            _f(r.mean_popularity_rank, 0),
            f"{_pct(r.franchise_share_hits)} of {r.n_hits:,}",
            _f(r.fit_s, 2),
            _f(r.recommend_s, 2),
        ]
        for r in res
    ]
    lines += _table(
        [
            "model",
            f"NDCG@{k} [95% CI]",
            f"HR@{k} [95% CI]",
            f"Recall@{k} [95% CI]",
            f"NPS@{k} (rated hits)",
            "coverage",
            "mean pop. rank",
            "franchise share of hits",
            "fit s",
            "recommend s",
        ],
        rows,
    )
    lines += [
        "",
        f"- **NPS@{k}**: pooled over every recommended item the user rated in the hold-out (+1 for "
        "9–10, 0 for 7–8, −1 for ≤ 6), on a −1…1 scale; the count of such items is in brackets. "
        "95% CIs: " + ", ".join(f"{r.model} {_ci(r.nps_ci)}" for r in res) + ".",
        f"- **coverage**: distinct recommended anime among the {sp['n_train_items']:,} anime rated "
        "by ≥ 1 training user, divided by that number.",
        "- **mean pop. rank**: mean of MAL's `popularity` rank of the recommended anime "
        "(1 = most members; lower = more mainstream).",
        "- **franchise share of hits**: share of relevant hits (recommended items rated ≥ 9 in the "
        "hold-out) whose title shares a franchise with the user's history, by a title-prefix proxy "
        "(see below); the number of hits follows. Share among all recommendations: "
        + ", ".join(f"{r.model} {_pct(r.franchise_share_recs)}" for r in res)
        + ".",
        "",
        "![metrics with 95% CIs](metrics.png)",
        "",
        "## NPS by rank bucket",
        "",
    ]
    buckets = [b for b, _, _ in RANK_BUCKETS]
    lines += _table(
        ["model", *[f"ranks {b}" for b in buckets]],
        [
            [r.model, *[f"{_f(r.nps_buckets[b].value)} ({r.nps_buckets[b].n:,})" for b in buckets]]
            for r in res
        ],
    )
    lines += ["", "![NPS by rank bucket](nps_buckets.png)", "", "## Cold-start items", ""]
    c0 = res[0].cold if res else {}
    lines += [
        f"Anime no training user rated: {sp['n_cold_items']:,} of {sp['n_catalog']:,}; the test "
        f"users hold {c0.get('n_heldout', 0):,} held-out ratings of them, "
        f"{c0.get('n_heldout_relevant', 0):,} relevant. Each model recommends among cold-start "
        f"anime only (`candidates` mask); metrics average over the {c0.get('n_users', 0):,} users "
        "with a relevant held-out cold-start item. Collaborative models cannot score items without "
        "ratings, so they serve few or no users here.",
        "",
    ]
    lines += _table(
        ["model", "users served", f"Recall@{k} [95% CI]", f"HR@{k}", f"NDCG@{k}", "NPS (rated)"],
        [
            [
                r.model,
                f"{r.cold['n_users_served']:,}",
                _ci(r.cold["recall"]),
                _f(r.cold["hr"]["mean"]),
                _f(r.cold["ndcg"]["mean"]),
                f"{_f(r.cold['nps']['value'])} ({r.cold['nps']['n']:,})",
            ]
            for r in res
        ],
    )
    lines += ["", "## Accuracy vs. exploration", ""]
    lines += _table(
        [
            "model",
            "explore",
            f"NDCG@{k}",
            f"HR@{k}",
            "diversity",
            "novelty",
            "coverage",
            "mean pop. rank",
        ],
        [
            [
                r.model,
                f"{e['explore']:g}",
                _f(e["ndcg"]),
                _f(e["hr"]),
                _f(e["diversity"]),
                _f(e["novelty"], 2),
                _pct(e["coverage"]),
                _f(e["mean_popularity_rank"], 0),
            ]
            for r in res
            for e in r.explore
        ],
    )
    lines += [
        "",
        "Diversity = 1 − mean pairwise cosine of the items of a list (genre vectors unless item "
        "embeddings were given); novelty = mean −log2 of the share of training users who rated "
        "the item ((count + 1) / (users + 1)).",
        "",
        "![accuracy vs exploration](explore.png)",
        "",
    ]
    tuned = [r for r in res if r.tuning]
    if tuned:
        lines += ["## Tuning", ""]
        lines += [
            "Grid search on a validation split of the training users only (20% of them, seed "
            f"{s.seed + 1}, same hold-out rule); selected by validation NDCG@{k}.",
            "",
        ]
        for r in tuned:
            t = r.tuning
            lines += [f"### {r.model}", ""]
            keys = sorted(t["best"])
            lines += _table(
                [*keys, f"val. NDCG@{k}", f"val. HR@{k}", f"val. Recall@{k}", "fit s", "chosen"],
                [
                    [
                        *[str(row["params"][key]) for key in keys],
                        _f(row["ndcg"], 4),
                        _f(row["hr"]),
                        _f(row["recall"]),
                        _f(row["fit_s"], 2),
                        "✔" if row["params"] == t["best"] else "",
                    ]
                    for row in t["rows"]
                ],
            )
            lines.append("")
    if ev.protocols is not None:
        lines += protocols_markdown(ev.protocols, k)
    lines += ["## The franchise proxy", "", (_franchise_doc or "").strip(), ""]
    return "\n".join(lines)


def write_report(
    ev: Evaluation,
    out: str | os.PathLike[str],
    *,
    title: str = "Evaluation",
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write ``report.md``, ``metrics.json`` and the PNGs into the folder ``out`` (atomically)."""
    out = Path(out)
    with atomic_path(out) as tmp:
        tmp.mkdir()
        (tmp / "metrics.json").write_text(
            json.dumps(metrics_dict(ev, extra), indent=2, sort_keys=True, allow_nan=False) + "\n"
        )
        (tmp / "report.md").write_text(render_markdown(ev, title))
        if ev.results:
            for name, plot in PLOTS.items():
                plot(ev.results, tmp / name)
        if ev.protocols is not None:
            plot_ndcg_by_likes(ev.protocols, tmp / "ndcg_by_likes.png", ev.settings.k)
    return out
