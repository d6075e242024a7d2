"""``animerec labels``: the pair table (who co-likes what) from the training users' ratings."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from animerec.cli._app import WorkspaceOpt, app, workspace
from animerec.data.ratings import Ratings
from animerec.data.split import protocol_split, validation_split
from animerec.errors import AnimerecError
from animerec.labels import LabelSettings, LabelSummary, plot_histograms, write_pairs
from animerec.spark import labels as spark_labels
from animerec.spark.options import Engine, EngineOpt, MasterOpt, SparkConfOpt, check_engine
from animerec.spark.session import cli_session
from animerec.workspace import Workspace, now_iso, write_json

USERS_HELP = (
    "Whose ratings make the labels: `train` (the protocol split's training users, so test users "
    "never leak into labels), `train-minus-validation` (those minus the validation users carved "
    "from them for tuning), `all` (every user, for production models) or a file of user ids, "
    "one per line."
)
TRAIN_MINUS_VALIDATION = "train-minus-validation"
"""The training users the validation studies fit on (``validation_split`` of the training users,
seed 43, takes the rest): a model trained on them may choose settings on the validation users."""


@app.command()
def labels(
    ws_path: WorkspaceOpt = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Output folder (default: WS/labels).")
    ] = None,
    users: Annotated[str, typer.Option("--users", help=USERS_HELP)] = "train",
    min_corated: Annotated[
        int,
        typer.Option(help="Fewest users who rated both anime with a non-zero NPS (co-raters)."),
    ] = 20,
    threshold: Annotated[
        float, typer.Option(help="|score| at which a pair becomes a +1/-1 label.")
    ] = 0.7,
    val_frac: Annotated[float, typer.Option(help="Share of pairs in the validation split.")] = 0.1,
    seed: Annotated[int, typer.Option(help="Seed of the train/validation split.")] = 42,
    block_size: Annotated[
        int, typer.Option(help="Anime per sparse-product block (memory vs. speed).", hidden=True)
    ] = 256,
    engine: EngineOpt = Engine.embedded,
    master: MasterOpt = None,
    spark_conf: SparkConfOpt = None,
) -> None:
    """Score every anime pair by how the same fans rate both (agreement and Jaccard)."""
    check_engine(engine, master, spark_conf)
    ws = workspace(ws_path)
    if not ws.ratings.exists():
        ws.require_ingested()
    try:
        settings = LabelSettings(min_corated, threshold, val_frac, seed)
    except ValueError as exc:
        raise AnimerecError(f"labels: {exc}") from None
    if block_size < 1:
        raise AnimerecError(f"labels: --block-size must be ≥ 1, got {block_size}")
    out_dir = out if out is not None else ws.sub("labels")

    t0 = time.perf_counter()
    if engine is Engine.spark:
        summary, source, user_ids, users_used = _spark_pairs(
            ws, users, settings, out_dir, master, spark_conf
        )
    else:
        ratings = Ratings.read(ws.ratings)
        user_ids, source = resolve_users(users, ratings)
        users_used = _users_used(user_ids, ratings.users, source, ws)
        summary = write_pairs(ratings, user_ids, settings, out_dir / "pairs.parquet", block_size)
    info: dict[str, Any] = summary.to_dict()
    info.update(
        engine=engine.value,
        users=source,
        users_given=len(user_ids),
        users_used=users_used,
        data_fingerprint=_fingerprint(ws),
        ratings_path=str(ws.ratings),
        created=now_iso(),
        elapsed_s=round(time.perf_counter() - t0, 2),
    )
    write_json(out_dir / "summary.json", info)
    plot_histograms(summary, out_dir / "score_hist.png")
    _print_summary(info, out_dir)


def _users_used(user_ids: np.ndarray, known: np.ndarray, source: str, ws: Workspace) -> int:
    used = int(np.isin(user_ids, known).sum())
    if used == 0:
        raise AnimerecError(
            f"labels: none of the {len(user_ids):,} users of {source} has ratings in {ws.ratings}"
        )
    return used


def _spark_pairs(
    ws: Workspace,
    users: str,
    settings: LabelSettings,
    out_dir: Path,
    master: str | None,
    spark_conf: list[str] | None,
) -> tuple[LabelSummary, str, np.ndarray, int]:
    """The pair table with Spark doing the counts; only the distinct user ids reach this process
    (the protocol's user draw needs nothing else)."""
    with cli_session(master, spark_conf) as spark:
        known = spark_labels.distinct_users(spark, ws.ratings)
        user_ids, source = resolve_users(users, spark_labels.users_ratings(known))
        used = _users_used(user_ids, known, source, ws)
        out_dir.mkdir(parents=True, exist_ok=True)
        frames = spark_labels.iter_pair_labels(
            spark, ws.ratings, user_ids, settings, scratch=out_dir
        )
        summary = write_pairs(None, user_ids, settings, out_dir / "pairs.parquet", 0, frames=frames)
    return summary, source, user_ids, used


def resolve_users(spec: str, ratings: Ratings) -> tuple[np.ndarray, str]:
    """``train`` / ``train-minus-validation`` / ``all`` / a file of ids → (sorted user ids, a
    description for the summary)."""
    if spec == "train":
        return protocol_split(ratings).train_users, "train"
    if spec == TRAIN_MINUS_VALIDATION:
        return validation_split(protocol_split(ratings).train).train_users, spec
    if spec == "all":
        return ratings.users, "all"
    return read_user_file(Path(spec)), str(spec)


def read_user_file(path: Path) -> np.ndarray:
    """User ids, one per line (blank lines, ``#`` comments and a ``user_id`` header are skipped)."""
    if not path.is_file():
        raise AnimerecError(
            f"users file {path} does not exist (--users takes train, all or a file)"
        )
    ids: list[int] = []
    for lineno, line in enumerate(path.read_text().splitlines(), start=1):
        text = line.split("#", 1)[0].strip()
        if not text or (lineno == 1 and text == "user_id"):
            continue
        try:
            ids.append(int(text))
        except ValueError:
            raise AnimerecError(
                f"{path}:{lineno}: {text!r} is not a user id (one integer per line)"
            ) from None
    if not ids:
        raise AnimerecError(f"users file {path} lists no user ids")
    return np.unique(np.asarray(ids, dtype=np.int64))


def _fingerprint(ws: Workspace) -> str | None:
    """The ingested files' fingerprint, so the labels say which data made them."""
    fp = ws.read_manifest().get("ingest", {}).get("fingerprint")
    return fp if isinstance(fp, str) and fp else None


def _print_summary(info: dict[str, Any], out_dir: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    s = info["settings"]
    table = Table(title=f"Pair labels ({info['users']} users: {info['users_used']:,})")
    table.add_column("")
    table.add_column("all", justify="right")
    table.add_column("train", justify="right")
    table.add_column("val", justify="right")
    sp = info["splits"]
    table.add_row("pairs", f"{info['pairs']:,}", *(f"{sp[k]['pairs']:,}" for k in ("train", "val")))
    for key, what in (
        ("positive", f"score ≥ {s['threshold']}"),
        ("negative", f"score ≤ −{s['threshold']}"),
    ):
        table.add_row(
            f"{key} ({what})", f"{info[key]:,}", *(f"{sp[k][key]:,}" for k in ("train", "val"))
        )
    table.add_row("neutral", f"{info['neutral']:,}", "", "")
    console = Console()
    console.print(table)
    console.print(
        f"anime in pairs: {info['anime_in_pairs']:,}; in ±1 pairs: {info['anime_labelled']:,}; "
        f"min co-raters {s['min_corated']}; {info['elapsed_s']} s"
    )
    if info["users"] == "all":
        console.print(
            "[yellow]note:[/] labels from every user include the protocol's test users: "
            "do not evaluate models trained on them with the protocol split"
        )
    console.print(f"wrote {out_dir}/pairs.parquet, summary.json, score_hist.png")
