"""The EASE study's Markdown tables (``benchmarks/ease_study.py`` builds the summary they read):
an overview of model × protocol with paired deltas, what a dislike did, and one table per
protocol with the chosen settings."""

from __future__ import annotations

import json

__all__ = ["markdown", "overview"]


def _ci(d: dict | None) -> str:
    return "–" if d is None else f"{d['mean']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}]"


def overview(table: dict) -> str:
    """Model × protocol: cross-fitted NDCG@10 and the paired Δ against tuned EASE; then, per
    dislike protocol, what the dislike did to the detractor rate and NDCG."""
    protos = [p for p in table if "+d" not in p]
    models = list(dict.fromkeys(m for p in table.values() for m in p["models"]))
    lines = [
        "| model | " + " | ".join(f"{p} ({table[p]['n_users']})" for p in protos) + " |",
        "|---|" + "---|" * len(protos),
    ]
    for m in models:
        cells = []
        for p in protos:
            c = table[p]["models"].get(m)
            cells.append(
                "–" if c is None else f"{c['ndcg']['mean']:.3f} (Δ {_ci(c.get('vs_ease'))})"
            )
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "| model | protocol | detractors with / without the dislike | Δ detractors | Δ NDCG@10 |",
        "|---|---|---|---|---|",
    ]
    for p in (p for p in table if "+d" in p):
        for m, c in table[p]["models"].items():
            if "det_without" in c and m != "popularity":
                lines.append(
                    f"| {m} | {p} | {c['det']:.3f} / {c['det_without']:.3f} | "
                    f"{_ci(c['det_with_minus_without'])} | {_ci(c['ndcg_with_minus_without'])} |"
                )
    lines += [
        "",
        "Each dislike weight at the model's best setting that ignores dislikes (Δ with − without "
        "the dislike: detractors; NDCG@10):",
        "",
        "| model | protocol | " + " | ".join(f"weight {w}" for w in ("-0.5", "-1.0")) + " |",
        "|---|---|---|---|",
    ]
    for p in (p for p in table if "+d" in p):
        for m, c in table[p]["models"].items():
            sweep = c.get("dislike_sweep", {}).get("by_weight", {})
            if "-0.5" in sweep:
                cells = [
                    f"{_ci(sweep[w]['det'])}; {_ci(sweep[w]['ndcg'])}" if w in sweep else "–"
                    for w in ("-0.5", "-1.0")
                ]
                lines.append(f"| {m} | {p} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def markdown(table: dict) -> str:
    lines = [overview(table)]
    for proto, t in table.items():
        lines += [
            f"\n**{proto}** ({t['n_users']} validation users)\n",
            "| model | NDCG@10 (cross-fitted) | Δ vs tuned EASE | Δ vs popularity | detractors | best params |",
            "|---|---|---|---|---|---|",
        ]  # fmt: skip
        for name, c in t["models"].items():
            ci = _ci
            det = f"{c['det']:.3f}"
            if "det_with_minus_without" in c:
                det += (
                    f" (without the dislike {c['det_without']:.3f}: "
                    f"Δ {ci(c['det_with_minus_without'])}; "
                    f"Δ NDCG {ci(c['ndcg_with_minus_without'])})"
                )
            n = c["ndcg"]
            lines.append(
                f"| {name} | {n['mean']:.3f} [{n['low']:.3f}, {n['high']:.3f}] | "
                f"{ci(c.get('vs_ease'))} | {ci(c.get('vs_popularity'))} | {det} | "
                f"`{json.dumps({k: v for k, v in c['best'].items() if k != 'embedder'})}` |"
            )
    return "\n".join(lines)
