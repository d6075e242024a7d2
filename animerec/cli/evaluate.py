"""``animerec evaluate``: rank recommenders on held-out users and write a report folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from animerec.cli._app import WorkspaceOpt, app, workspace
from animerec.errors import AnimerecError

MODEL_ORDER = ("popularity", "itemknn", "userknn", "ease", "als", "content", "hybrid")


def _split_list(text: str, what: str) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise AnimerecError(f"--{what} is empty")
    return items


def _floats(text: str) -> list[float]:
    try:
        return [float(x) for x in _split_list(text, "explore")]
    except ValueError as exc:
        raise AnimerecError(
            f"--explore takes numbers in [0, 1] separated by commas: {exc}"
        ) from exc


@app.command()
def evaluate(
    ws: WorkspaceOpt = None,
    models: Annotated[
        str | None,
        typer.Option(
            "--models",
            "-m",
            help=f"Comma-separated recommenders (default: every registered one of {','.join(MODEL_ORDER)}).",
            show_default=False,
        ),
    ] = None,
    k: Annotated[int, typer.Option("--k", help="Length of each recommendation list.")] = 10,
    explore: Annotated[
        str,
        typer.Option(
            "--explore", help="Exploration levels in [0, 1] for the accuracy/diversity curve."
        ),
    ] = "0",
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Report folder (default: WS/reports/eval-<UTC time>).", show_default=False
        ),
    ] = None,
    retune: Annotated[
        bool, typer.Option("--retune", help="Re-run the grid searches even if cached.")
    ] = False,
    tune: Annotated[
        bool,
        typer.Option("--tune/--no-tune", help="Tune hyper-parameters on training users (cached)."),
    ] = True,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the split and the bootstrap.")] = 42,
    embedder: Annotated[
        str | None,
        typer.Option("--embedder", help="Embedder for content and hybrid (e.g. minilm)."),
    ] = None,
    backend: Annotated[
        str | None,
        typer.Option(
            "--backend",
            help="How content and hybrid run the embedder: torch, onnx or onnx-int8 "
            "(2.6-2.9x faster on a CPU, docs/benchmarks.md).",
        ),
    ] = None,
    bootstrap: Annotated[
        int, typer.Option("--bootstrap", help="Bootstrap resamples for the 95% CIs.")
    ] = 1000,
    protocol: Annotated[
        str,
        typer.Option(
            "--protocol",
            help="Comma-separated input protocols: holdout (DESIGN §5), likes (N favourites "
            "given, --likes), or likesN / likesN+d1 by name.",
        ),
    ] = "holdout",
    likes: Annotated[
        str, typer.Option("--likes", help="The N of the likes protocol, comma-separated.")
    ] = "1,3,5,10",
    dislikes: Annotated[
        int,
        typer.Option(
            "--dislikes",
            help="Also run each likes-N with this many disliked titles given (0 or 1), beside "
            "the same users without them.",
        ),
    ] = 0,
    tune_per_protocol: Annotated[
        str,
        typer.Option(
            "--tune-per-protocol",
            help="Models tuned per protocol on validation users (comma-separated, 'none', "
            "'all', or 'auto': ease when it is evaluated); each distinct parameter set is "
            "fitted once more.",
        ),
    ] = "auto",
    dislike_strength: Annotated[
        float,
        typer.Option(
            "--dislike-strength",
            help="The ranking pipeline's dislike step: how far a history's dislikes (ratings "
            "<= 5) push down what fans who disliked the same titles also disliked (0 = off, "
            "the served default; 0.5 = the strength validation chose for EASE).",
        ),
    ] = 0.0,
    spread: Annotated[
        bool,
        typer.Option(
            "--spread",
            help="Spread each model's lists over more of the catalog across the test users "
            "(each keeps its first 8; the other slots take the user's top-40 anime recommended "
            "least so far): coverage for a little NDCG (docs/benchmarks.md).",
        ),
    ] = False,
    min_raters: Annotated[
        int | None,
        typer.Option(
            "--min-raters",
            help="Titles fewer training users rated come only as labelled new titles (default: "
            "the served rule; 0 = off; docs/experiments.md 'No filler').",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run the DESIGN §5 protocol (seeded user split, 80/20 hold-out, relevant = rating ≥ 9)."""
    from rich.console import Console
    from rich.table import Table

    from animerec.data.catalog import Catalog
    from animerec.data.ratings import Ratings
    from animerec.data.split import parse_protocols
    from animerec.embed.registry import check_backend
    from animerec.evaluate.report import write_report
    from animerec.evaluate.runner import check_explore, default_report_dir
    from animerec.evaluate.runner import evaluate as run_evaluate
    from animerec.recommend.evidence import MIN_RATERS
    from animerec.recommend.registry import RECOMMENDERS, check_model_names
    from animerec.recommend.spread import Spread

    if k < 1:
        raise AnimerecError(f"--k must be >= 1, got {k}")
    if bootstrap < 1:
        raise AnimerecError(f"--bootstrap must be >= 1, got {bootstrap}")
    if min_raters is not None and min_raters < 0:
        raise AnimerecError(f"--min-raters must be >= 0, got {min_raters}")
    names = (
        _split_list(models, "models")
        if models is not None
        else [m for m in MODEL_ORDER if m in RECOMMENDERS]
    )
    check_model_names(names)
    if backend is not None:
        check_backend(backend)
    xs = _floats(explore)
    check_explore(xs)
    if dislike_strength < 0:
        raise AnimerecError(f"--dislike-strength must be >= 0, got {dislike_strength}")
    if dislikes not in (0, 1):
        raise AnimerecError(f"--dislikes takes 0 or 1, got {dislikes}")
    try:
        ns = [int(x) for x in _split_list(likes, "likes")]
        protocols = parse_protocols(_split_list(protocol, "protocol"), ns, dislikes)
    except ValueError as exc:
        raise AnimerecError(f"--protocol/--likes: {exc}") from exc
    per = _split_list(tune_per_protocol, "tune-per-protocol")
    per = [] if per == ["none"] else names if per == ["all"] else per
    if per == ["auto"]:
        per = [n for n in ("ease",) if n in names]
    unknown = sorted(set(per) - set(names))
    if unknown:
        raise AnimerecError(f"--tune-per-protocol names {', '.join(unknown)}, not among --models")

    w = workspace(ws)
    w.require_ingested()
    catalog, ratings = Catalog.read(w.anime), Ratings.read(w.ratings)
    shared = {"embedder": embedder} if embedder else {}
    if backend is not None:
        shared["backend"] = backend
    err = Console(stderr=True)
    ev = run_evaluate(
        names,
        ratings,
        catalog,
        k=k,
        explore=xs,
        seed=seed,
        workspace=w,
        retune=retune,
        tune_models=tune,
        params={n: shared for n in names},
        n_bootstrap=bootstrap,
        spread=Spread() if spread else None,
        protocols=protocols,
        tune_per_protocol=per,
        dislike_strength=dislike_strength,
        min_raters=MIN_RATERS if min_raters is None else min_raters,
        log=lambda msg: err.print(f"[dim]{msg}[/dim]"),
    )
    target = out if out is not None else default_report_dir(w)
    ingest_fp = w.read_manifest().get("ingest", {}).get("fingerprint")
    write_report(ev, target, extra={"ingest_fingerprint": ingest_fp, "workspace": str(w.root)})

    table = Table(title=f"evaluation on {ev.split['n_counted_users']:,} test users (k={k})")
    for col in (
        "model",
        f"NDCG@{k} [95% CI]",
        f"HR@{k}",
        f"Recall@{k}",
        "NPS (rated)",
        "coverage",
        "pop. rank",
        "franchise",
        "fit s",
        "rec. s",
    ):
        table.add_column(col, justify="left" if col == "model" else "right", no_wrap=True)
    for r in ev.results:
        table.add_row(
            r.model,
            f"{r.ndcg.mean:.3f} [{r.ndcg.low:.3f}, {r.ndcg.high:.3f}]",
            f"{r.hr.mean:.3f}",
            f"{r.recall.mean:.3f}",
            f"{r.nps.value:.3f} ({r.nps.n:,})",
            f"{100 * r.coverage:.1f}%",
            f"{r.mean_popularity_rank:.0f}",
            f"{100 * r.franchise_share_hits:.0f}%",
            f"{r.fit_s:.2f}",
            f"{r.recommend_s:.2f}",
        )
    console = Console()
    if not console.is_terminal:  # piped or captured: do not squeeze the table into 80 columns
        console = Console(width=160)
    console.print(table)
    if ev.protocols is not None:
        console.print(_protocol_table(ev.protocols, k))
    console.print(f"report: {target / 'report.md'}")


def _protocol_table(part: dict, k: int):
    """NDCG@k per model (rows) and protocol (columns), and the detractor rate."""
    from rich.table import Table

    res = part["results"]
    table = Table(title=f"NDCG@{k} / detractor rate per protocol")
    table.add_column("model")
    for p in res:
        table.add_column(p, justify="right", no_wrap=True)
    models = list(dict.fromkeys(m for rows in res.values() for m in rows))
    for m in models:
        cells = []
        for p in res:
            r = res[p].get(m)
            cells.append(
                "–" if r is None else f"{r['ndcg']['mean']:.3f} / {r['detractor_rate']['mean']:.3f}"
            )
        table.add_row(m, *cells)
    return table
