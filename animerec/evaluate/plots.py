"""The report's figures (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from animerec.evaluate.metrics import RANK_BUCKETS, EvalResult  # noqa: E402

_METRICS = (("ndcg", "NDCG"), ("hr", "HR"), ("recall", "Recall"))


def _save(fig: plt.Figure, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)


def plot_metrics(results: Sequence[EvalResult], path: Path) -> None:
    """NDCG / HR / Recall @k per model, with their 95% bootstrap intervals as error bars."""
    names = [r.model for r in results]
    x = np.arange(len(names))
    fig, axes = plt.subplots(1, len(_METRICS), figsize=(4.2 * len(_METRICS), 3.6))
    for ax, (attr, label) in zip(axes, _METRICS, strict=True):
        cis = [getattr(r, attr) for r in results]
        mean = np.array([c.mean for c in cis])
        err = np.array([[c.mean - c.low for c in cis], [c.high - c.mean for c in cis]])
        ax.bar(x, mean, yerr=np.nan_to_num(err), capsize=4, color="tab:blue", alpha=0.8)
        ax.set_xticks(x, names, rotation=30, ha="right")
        k = results[0].k if results else 10
        ax.set_title(f"{label}@{k} (95% CI)")
        ax.set_ylim(bottom=0)
    _save(fig, path)


def plot_nps_buckets(results: Sequence[EvalResult], path: Path) -> None:
    """The book's NPS by rank bucket (ranks 0–2, 3–6, 7+), one bar group per model."""
    buckets = [b for b, _, _ in RANK_BUCKETS]
    x = np.arange(len(results))
    width = 0.8 / len(buckets)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(results) + 2), 3.8))
    for i, b in enumerate(buckets):
        vals = [r.nps_buckets[b].value for r in results]
        ax.bar(x + (i - (len(buckets) - 1) / 2) * width, vals, width, label=f"ranks {b}")
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks(x, [r.model for r in results], rotation=30, ha="right")
    ax.set_ylabel("NPS (−1 … 1)")
    ax.set_title("NPS by rank bucket (rated recommendations)")
    ax.legend()
    _save(fig, path)


def plot_explore(results: Sequence[EvalResult], path: Path) -> None:
    """Accuracy (NDCG) against intra-list diversity and novelty as exploration grows."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for r in results:
        rows = sorted(r.explore, key=lambda d: d["explore"])
        nd = [d["ndcg"] for d in rows]
        for ax, key in zip(axes, ("diversity", "novelty"), strict=True):
            xs = [d[key] for d in rows]
            ax.plot(xs, nd, marker="o", label=r.model)
            for xv, yv, d in zip(xs, nd, rows, strict=True):
                ax.annotate(
                    f"{d['explore']:g}",
                    (xv, yv),
                    fontsize=7,
                    xytext=(3, 3),
                    textcoords="offset points",
                )
    k = results[0].k if results else 10
    axes[0].set_xlabel("intra-list diversity (1 − mean pairwise cosine)")
    axes[1].set_xlabel("novelty (mean −log2 popularity share)")
    for ax in axes:
        ax.set_ylabel(f"NDCG@{k}")
    axes[0].set_title("accuracy vs. diversity (labels: explore)")
    axes[1].set_title("accuracy vs. novelty (labels: explore)")
    axes[1].legend(fontsize=8)
    _save(fig, path)
