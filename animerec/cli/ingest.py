"""`animerec ingest`: raw MAL files → workspace tables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from animerec.cli._app import WorkspaceOpt, app, workspace
from animerec.spark.options import Engine, EngineOpt, MasterOpt, SparkConfOpt, check_engine
from animerec.spark.session import cli_session


@app.command()
def ingest(
    data: Annotated[
        Path,
        typer.Option(
            "--data",
            "-d",
            help="Folder with anime.csv, anime_with_synopsis.csv, rating_complete.csv (plain or .gz; animelist.csv optional).",
        ),
    ],
    ws: WorkspaceOpt = None,
    memory_limit: Annotated[
        str, typer.Option(help="DuckDB memory limit for de-duplicating and sorting ratings.")
    ] = "2GB",
    engine: EngineOpt = Engine.embedded,
    master: MasterOpt = None,
    spark_conf: SparkConfOpt = None,
) -> None:
    """Read the MAL files into the workspace, validating every row (bad rows go to rejects.csv)."""
    check_engine(engine, master, spark_conf)
    w = workspace(ws)
    # The ingest engines load here: they import DuckDB, 0.15 s that every `animerec` command
    # would pay at start-up (python -X importtime -c "import animerec.cli").
    from animerec.data.ingest import IngestSettings
    from animerec.data.ingest import ingest as run_ingest
    from animerec.spark.ingest import ingest as spark_ingest

    if engine is Engine.spark:
        with cli_session(master, spark_conf) as spark:
            summary = spark_ingest(data, w, spark)
    else:
        summary = run_ingest(data, w, IngestSettings(memory_limit=memory_limit))
    out = Console()
    t = Table(title=f"ingested {data} → {w.root}", show_header=False)
    t.add_row("anime", f"{summary.anime:,} ({summary.with_synopsis:,} with a synopsis)")
    t.add_row(
        "ratings",
        f"{summary.ratings:,} by {summary.users:,} users on {summary.rated_anime:,} anime",
    )
    for what, n in summary.skipped.items():
        t.add_row("skipped", f"{n:,}  {what}")
    for what, n in summary.rejects.items():
        t.add_row("[red]rejected[/red]", f"{n:,}  {what}")
    t.add_row("rejects file", f"{w.rejects} ({summary.n_rejects:,} rows)")
    t.add_row("time", f"{summary.seconds:.1f} s ({engine.value} engine)")
    out.print(t)
