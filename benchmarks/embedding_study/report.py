"""``report``: markdown tables of every step's results, and the NPS-by-rank plot."""

from __future__ import annotations

import json

import numpy as np

from .content import SELECT_NEIGHBOURS
from .stats import paired_delta, pooled_delta
from .study import FOLDS, Study, model_manifest, parse_label


# --- the report ------------------------------------------------------------------------------------
def _load(study: Study, step: str) -> dict[str, dict]:
    folder = study.out / step
    return (
        {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}
        if folder.exists()
        else {}
    )


def _ci(x: dict) -> str:
    return f"{x['mean']:.3f} [{x['low']:.3f}, {x['high']:.3f}]"


def _row(label: str, r: dict, base: dict | None, model: str, data: dict) -> str:
    nps = r["nps"]
    nps_ci = r.get("nps_ci") or {}
    delta = ""
    if base is not None and model in base["per_user"] and label != base["label"]:
        d, lo, hi = paired_delta(base["per_user"][model], data["per_user"][model])
        delta = f"{d:+.3f} [{lo:+.3f}, {hi:+.3f}]"
    ft = data.get("finetune") or {}
    steps = ft.get("steps", "–")
    sp = (ft.get("validation") or {}).get("after")
    sp_before = (ft.get("validation") or {}).get("before")
    spear = f"{sp_before:.3f} → {sp:.3f}" if sp is not None and sp_before is not None else "–"
    nps_txt = f"{nps['value']:+.3f}" if nps["value"] is not None else "–"
    if nps_ci.get("low") is not None:
        nps_txt += f" [{nps_ci['low']:+.3f}, {nps_ci['high']:+.3f}]"
    return (
        f"| {label} | {steps} | {_ci(r['ndcg'])} | {delta or '–'} | {_ci(r['hr'])} | "
        f"{nps_txt} (n={nps['n']}) | {spear} |"
    )


def _label_seq(study: Study, label: str) -> int | None:
    seq = parse_label(label)[1]
    return seq if seq is not None else model_manifest(study, label).get("max_seq_length")


def _cold_delta(study: Study, cold: dict, label: str, data: dict, model: str) -> str:
    """Paired Δ cold NDCG@10 of a fine-tuned model vs base MiniLM at its sequence length."""
    seq = model_manifest(study, label).get("max_seq_length")
    base = cold.get(f"base@{seq}") if seq else None
    if base is None or "per_user_cold" not in data or "per_user_cold" not in base:
        return "–"
    d, lo, hi = paired_delta(base["per_user_cold"]["content"], data["per_user_cold"][model])
    return f"{d:+.3f} [{lo:+.3f}, {hi:+.3f}]"


def report(study: Study, base_label: str) -> None:
    header = (
        "| embedder | steps | NDCG@10 [95% CI] | paired Δ NDCG vs base | HR@10 | NPS@10 [95% CI] | "
        "val Spearman |\n|---|---|---|---|---|---|---|"
    )
    for step, models in (
        ("select", [f"content-n{n}" for n in SELECT_NEIGHBOURS]),
        ("dev", ["content"]),
        ("dev-hybrid", ["content", "hybrid"]),
        ("coldstart", ["content"]),
    ):
        runs = _load(study, step)
        if not runs:
            continue
        for model in models:
            print(f"\n### {step}: {model}\n\n{header}")
            base = runs.get(base_label) or runs.get(base_label.replace("@", "_"))
            for label, data in runs.items():
                for r in data["results"]:
                    if r["model"] == model:
                        print(_row(label, r, base, model, data))
    cold = _load(study, "coldstart")
    if cold:
        print("\n### cold-start items (recommending among anime no training user rated)\n")
        print(
            "| run | model | cold NDCG@10 [95% CI] | paired Δ vs base MiniLM, same length | "
            "cold HR@10 | users served | relevant held-out |"
        )
        print("|---|---|---|---|---|---|---|")
        for label, data in cold.items():
            for r in data["results"]:
                c = r["cold"]
                print(
                    f"| {label} | {r['model']} | {_ci(c['ndcg'])} | "
                    f"{_cold_delta(study, cold, label, data, r['model'])} | {_ci(c['hr'])} | "
                    f"{c['n_users_served']} | {c['n_heldout_relevant']} |"
                )
    for step in ("coldscore-val", "coldscore"):
        scored = _load(study, step)
        if not scored:
            continue
        print(f"\n### cold-start items by rule ({step})\n")
        print("| run | rule | cold NDCG@10 | paired Δ vs base MiniLM, same length and rule |")
        print("|---|---|---|---|")
        for label, data in scored.items():
            seqs = {_label_seq(study, p) for p in label.split("+")}
            base = scored.get(f"base@{seqs.pop()}") if len(seqs) == 1 else None
            for how, per_user in data["per_user_cold"].items():
                delta = "–"
                if base is not None and base is not data and how in base["per_user_cold"]:
                    d, lo, hi = paired_delta(base["per_user_cold"][how], per_user)
                    delta = f"{d:+.3f} [{lo:+.3f}, {hi:+.3f}]"
                print(f"| {label} | {how} | {np.mean(per_user['ndcg']):.3f} | {delta} |")
    report_folds(study)
    plot_buckets(study)


def report_folds(study: Study) -> None:
    """The k-fold cold-start table: pooled over folds, Δ vs base MiniLM at the same length."""
    runs = _load(study, "coldfolds")
    if not runs:
        return
    print(f"\n### cold-start items over {FOLDS} folds of the catalog (coldfolds)\n")
    print(
        "| run | folds | (fold, user) units | cold NDCG@10 | cold HR@10 | "
        "pooled Δ NDCG vs base MiniLM, same length [95% CI, users resampled] |"
    )
    print("|---|---|---|---|---|---|")
    for label, data in runs.items():
        folds = data["folds"]
        seq = _label_seq(study, label if "@" in label else f"fold0-{label}")
        base = runs.get(f"base@{seq}")
        delta = "–"
        if base is not None and base is not data:
            d, lo, hi, _ = pooled_delta(base["folds"], folds)
            delta = f"{d:+.4f} [{lo:+.4f}, {hi:+.4f}]"
        ndcg = np.concatenate([f["ndcg"] for f in folds])
        hr = np.concatenate([f["hr"] for f in folds])
        print(
            f"| {label} | {len(folds)} | {len(ndcg):,} | {ndcg.mean():.4f} | {hr.mean():.3f} | "
            f"{delta} |"
        )


def plot_buckets(study: Study) -> None:
    """The book's NPS by rank bucket for every DEV run (content and hybrid)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = []
    for step in ("dev", "dev-hybrid"):
        for label, data in _load(study, step).items():
            for r in data["results"]:
                if step == "dev-hybrid" and r["model"] == "content":
                    continue
                rows.append((f"{r['model']}[{label}]", r["nps_buckets"]))
    if not rows:
        return
    buckets = list(rows[0][1])
    x = np.arange(len(rows))
    width = 0.8 / len(buckets)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(rows) + 2), 4.0))
    for i, b in enumerate(buckets):
        vals = [(r[b]["value"] if r[b]["value"] is not None else np.nan) for _, r in rows]
        ax.bar(x + (i - (len(buckets) - 1) / 2) * width, vals, width, label=f"ranks {b}")
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks(x, [n for n, _ in rows], rotation=35, ha="right", fontsize=8)
    ax.set_ylabel("NPS (−1 … 1)")
    ax.set_title("NPS by rank bucket (DEV test users, rated recommendations)")
    ax.legend()
    fig.tight_layout()
    path = study.out / "nps_by_rank_bucket.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    print(f"\nNPS by rank bucket: {path}")
    print("\n| run | " + " | ".join(f"ranks {b}" for b in buckets) + " |")
    print("|---|" + "---|" * len(buckets))
    for name, r in rows:
        cells = [
            f"{r[b]['value']:+.3f} (n={r[b]['n']})" if r[b]["value"] is not None else "–"
            for b in buckets
        ]
        print(f"| {name} | " + " | ".join(cells) + " |")
