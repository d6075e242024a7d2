"""The few-likes part of an evaluation report: a Markdown section and a plot of NDCG@k against
the number of titles given, from the ``protocols`` part of ``metrics.json``
(:func:`animerec.evaluate.protocols.compare`)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from animerec.data.split import Protocol  # noqa: E402
from animerec.evaluate.protocols import REFERENCES  # noqa: E402

__all__ = ["plot_ndcg_by_likes", "protocols_markdown"]


def _ci(d: dict[str, Any] | None, digits: int = 3, sign: bool = False) -> str:
    if not d or d.get("mean") is None or not math.isfinite(d["mean"]):
        return "–"
    f = f"{{:{'+' if sign else ''}.{digits}f}}"
    lo, hi = d.get("low"), d.get("high")
    lo_s = "–" if lo is None or not math.isfinite(lo) else f.format(lo)
    hi_s = "–" if hi is None or not math.isfinite(hi) else f.format(hi)
    return f"{f.format(d['mean'])} [{lo_s}, {hi_s}]"


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def protocols_markdown(part: dict[str, Any], k: int) -> list[str]:
    """One table of every model under every protocol (with paired Δ NDCG against the
    references) and, where a dislike was given, the with/without-dislike comparison."""
    refs = [r for r in REFERENCES]
    lines = [
        "## Protocols: the hold-out and few likes",
        "",
        "`likesN`: N titles drawn (seeded per user) from the test user's ratings ≥ 9 are given "
        "as liked (rating 10); relevant = every other rating ≥ 9 of the user (users need ≥ N + 1 "
        "of them). `likesN+d1`: one title drawn from the user's ratings ≤ 5 is given as well, as "
        "disliked (rating 1); only users with such a rating, and the disliked title is in no "
        "answer. Every model is fitted once on the training users (the same under every "
        "protocol) unless tuned per protocol "
        f"({', '.join(part.get('tuned_per_protocol') or []) or 'none'}). Detractor rate = share "
        "of recommended titles the user rated ≤ 6. Δ are paired over the same users, with 95% "
        "bootstrap CIs.",
        "",
        _row(
            ["protocol", "users", "model", f"NDCG@{k}", f"HR@{k}", "NPS", "detractor rate"]
            + [f"Δ NDCG vs {r}" for r in refs]
        ),
        _row(["---"] * (7 + len(refs))),
    ]
    for pname, models in part["results"].items():
        n = part["split"][pname]["n_test_users"]
        for model, row in models.items():
            lines.append(
                _row(
                    [pname, f"{n:,}", model, _ci(row["ndcg"]), _ci(row["hr"]), _ci(row["nps"])]
                    + [_ci(row["detractor_rate"])]
                    + [_ci(row["vs"].get(r, {}).get("ndcg"), sign=True) for r in refs]
                )
            )
    lines += _variants(part, k)
    with_d = {p: m for p, m in part["results"].items() if Protocol.parse(p).dislikes}
    if with_d:
        lines += [
            "",
            "### The dislike: the same users with and without it",
            "",
            _row(
                [
                    "protocol",
                    "model",
                    "detractor rate with",
                    "without",
                    "Δ detractor rate",
                    f"NDCG@{k} with",
                    "without",
                    f"Δ NDCG@{k}",
                ]
            ),
            _row(["---"] * 8),
        ]
        for pname, models in with_d.items():
            for model, row in models.items():
                w, d = row["without_dislike"], row["dislike_delta"]
                lines.append(
                    _row(
                        [
                            pname,
                            model,
                            _ci(row["detractor_rate"]),
                            _ci(w["detractor_rate"]),
                            _ci(d["detractor_rate"], sign=True),
                            _ci(row["ndcg"]),
                            _ci(w["ndcg"]),
                            _ci(d["ndcg"], sign=True),
                        ]
                    )
                )
    tun = part.get("tunings") or {}
    if tun:
        lines += ["", "### Parameters tuned per protocol (validation users)", ""]
        for model, per in tun.items():
            for pname, t in per.items():
                lines.append(f"- {model} @ {pname}: `{t['best']}`")
    lines.append("")
    return lines


def _variants(part: dict[str, Any], k: int) -> list[str]:
    """A registered variant against its base model (``adaptive-ft`` − ``adaptive``), paired."""
    rows = [
        (pname, model, base, d)
        for pname, models in part["results"].items()
        for model, row in models.items()
        for base, d in row["vs"].items()
        if base not in REFERENCES
    ]
    if not rows:
        return []
    out = [
        "",
        "### Variants against their base model (paired, same users)",
        "",
        _row(["protocol", "variant", "base", f"Δ NDCG@{k}", f"Δ HR@{k}", "Δ detractor rate"]),
        _row(["---"] * 6),
    ]
    for pname, model, base, d in rows:
        out.append(
            _row(
                [pname, model, base, _ci(d["ndcg"], sign=True), _ci(d["hr"], sign=True)]
                + [_ci(d["detractor_rate"], sign=True)]
            )
        )
    return out


def plot_ndcg_by_likes(part: dict[str, Any], path: Path, k: int = 10) -> None:
    """NDCG@k (95% CI) against the number of liked titles given, one line per model; the
    hold-out drawn as a separate marker at the right."""
    likes = sorted(
        (Protocol.parse(p).n_likes, p)
        for p in part["results"]
        if Protocol.parse(p).n_likes and not Protocol.parse(p).dislikes
    )
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    xs = [n for n, _ in likes]
    hold_x = (max(xs) if xs else 1) * 1.6
    models = list(dict.fromkeys(m for rows in part["results"].values() for m in rows))
    for i, model in enumerate(models):
        color = f"C{i % 10}"
        rows = [part["results"][p].get(model) for _, p in likes]
        pts = [(x, r["ndcg"]) for x, r in zip(xs, rows, strict=True) if r]
        if pts:
            ax.errorbar(
                [x for x, _ in pts],
                [c["mean"] for _, c in pts],
                yerr=[
                    [c["mean"] - c["low"] for _, c in pts],
                    [c["high"] - c["mean"] for _, c in pts],
                ],
                marker="o",
                capsize=3,
                color=color,
                label=model,
            )
        hold = part["results"].get("holdout", {}).get(model)
        if hold:
            c = hold["ndcg"]
            ax.errorbar(
                [hold_x], [c["mean"]], yerr=[[c["mean"] - c["low"]], [c["high"] - c["mean"]]],
                marker="s", capsize=3, color=color, linestyle="none",
            )  # fmt: skip
    ax.set_xscale("log")
    ticks = xs + ([hold_x] if "holdout" in part["results"] else [])
    ax.set_xticks(ticks, [str(x) for x in xs] + (["hold-out"] if len(ticks) > len(xs) else []))
    ax.minorticks_off()
    ax.set_xlabel("liked titles given (N)")
    ax.set_ylabel(f"NDCG@{k}")
    ax.set_title(f"NDCG@{k} against the number of liked titles (95% CI)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)
