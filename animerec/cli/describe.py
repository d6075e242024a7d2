"""``animerec describe``: print generated descriptions, or their token-length statistics."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from animerec.cli._app import WorkspaceOpt, app, workspace
from animerec.data.catalog import Catalog
from animerec.embed.tokenizer import load_tokenizer
from animerec.errors import AnimerecError, UnknownTitleError
from animerec.text import (
    DEFAULT_VARIANT,
    TRUNCATION_LIMITS,
    VARIANTS,
    check_variant,
    length_stats,
    plot_token_histogram,
    token_lengths,
    truncation_shares,
)
from animerec.text import describe as describe_texts
from animerec.workspace import now_iso, write_json


@app.command()
def describe(
    ws: WorkspaceOpt = None,
    variant: Annotated[
        str | None,
        typer.Option(
            "--variant",
            help=f"Description variant: {' | '.join(VARIANTS)} "
            f"(default: {DEFAULT_VARIANT}; with --stats: all of them).",
            show_default=False,
        ),
    ] = None,
    ids: Annotated[
        list[int] | None,
        typer.Option("--id", help="MAL id of an anime to describe (repeatable)."),
    ] = None,
    title: Annotated[
        str | None,
        typer.Option("--title", help="Describe the anime with this name (or English name)."),
    ] = None,
    stats: Annotated[
        bool,
        typer.Option("--stats", help="Token-length statistics and truncation shares instead."),
    ] = False,
    tokenizer: Annotated[
        str,
        typer.Option(
            "--tokenizer", help="Embedder name (minilm, mpnet, …), model directory or hub name."
        ),
    ] = "minilm",
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Histogram PNG (default: WS/reports/token_lengths_<tokenizer>_<variant>.png); "
            "with several variants, the variant is added to the name.",
            show_default=False,
        ),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option("--limit", min=1, help="Use only the first N selected anime."),
    ] = None,
) -> None:
    """Print the generated description of anime, or (--stats) how long they are in tokens.

    With no --id/--title every anime is used (printing: the first 5 unless --limit says more).
    """
    variants = (
        [check_variant(variant)] if variant else list(VARIANTS if stats else [DEFAULT_VARIANT])
    )
    w = workspace(ws)
    if not w.anime.exists():
        w.require_ingested()
    catalog = Catalog.read(w.anime)
    positions = _select(catalog, ids or [], title)
    if positions is None and not stats and limit is None:
        limit = 5
    if positions is None:
        positions = np.arange(len(catalog))
    positions = positions[:limit] if limit is not None else positions
    frame = catalog.frame.iloc[positions]

    if not stats:
        for v in variants:
            for aid, name, text in zip(
                frame["anime_id"], frame["name"], describe_texts(frame, v), strict=True
            ):
                typer.echo(f"== {aid} · {name} ({v}) ==\n{text}\n")
        return

    tok = load_tokenizer(tokenizer, w)
    label = _label(tokenizer)
    figures = {}
    for v in variants:
        lengths = token_lengths(describe_texts(frame, v), tok)
        if out is None:
            png = w.reports_dir / f"token_lengths_{label}_{v}.png"
        elif len(variants) > 1:
            png = out.with_name(f"{out.stem}_{v}{out.suffix or '.png'}")
        else:
            png = out
        plot_token_histogram(
            lengths, png, title=f"Token lengths ({label} tokenizer, {v} descriptions)"
        )
        figures[v] = {
            "variant": v,
            "tokenizer": tokenizer,
            "stats": length_stats(lengths),
            "truncated_share": {str(k): s for k, s in truncation_shares(lengths).items()},
            "histogram": str(png),
            "created": now_iso(),
        }
        write_json(png.with_suffix(".json"), figures[v])
    _print_stats(figures, label)


def _select(catalog, ids: list[int], title: str | None) -> np.ndarray | None:
    """Catalog positions of the requested anime, in the order asked; None if nothing was asked."""
    if not ids and title is None:
        return None
    positions = list(catalog.positions(ids)) if ids else []
    missing = [i for i, p in zip(ids, positions, strict=True) if p < 0]
    if missing:
        raise AnimerecError(
            f"anime id {', '.join(map(str, missing))} is not in the catalog ({len(catalog)} anime)"
        )
    if title is not None:
        positions.extend(_title_positions(catalog, title))
    return np.asarray(positions, dtype=np.int64)


def _title_positions(catalog, title: str) -> list[int]:
    """Positions whose name or English name equals ``title`` (case-insensitive)."""
    key = title.strip().casefold()
    frame = catalog.frame
    hits = np.zeros(len(frame), dtype=bool)
    for column in ("name", "english_name"):
        values = frame[column].astype(object).where(frame[column].notna(), "")
        hits |= np.array([str(v).casefold() == key for v in values])
    if hits.any():
        return np.flatnonzero(hits).tolist()
    from rapidfuzz import fuzz, process, utils

    close = process.extract(
        title, catalog.names, scorer=fuzz.WRatio, processor=utils.default_process, limit=5
    )
    hint = "; close matches: " + ", ".join(repr(m[0]) for m in close) if close else ""
    raise UnknownTitleError(f"no anime is named {title!r}{hint}")


def _label(tokenizer: str) -> str:
    """A file-name-safe short name for a tokenizer given by name or path."""
    name = Path(tokenizer).name or tokenizer
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "tokenizer"


def _print_stats(figures: dict, label: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Description length in {label} tokens (special tokens included)")
    table.add_column("variant")
    for col in ("n", "min", "p50", "p90", "p95", "p99", "max", "mean"):
        table.add_column(col, justify="right")
    for limit in TRUNCATION_LIMITS:
        table.add_column(f">{limit}", justify="right")
    for v, fig in figures.items():
        s = fig["stats"]
        table.add_row(
            v,
            f"{s['n']:,}",
            *(f"{s[k]:.0f}" for k in ("min", "p50", "p90", "p95", "p99", "max")),
            f"{s['mean']:.1f}",
            *(f"{fig['truncated_share'][str(k)]:.1%}" for k in TRUNCATION_LIMITS),
        )
    Console(width=max(120, Console().width)).print(table)
    for fig in figures.values():  # plain lines: paths must not be wrapped
        png = Path(fig["histogram"])
        typer.echo(f"histogram: {png}  figures: {png.with_suffix('.json')}")
