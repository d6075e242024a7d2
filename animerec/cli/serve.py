"""`animerec serve`: the REST API and the fan web page on one port (uvicorn)."""

from __future__ import annotations

from typing import Annotated

import typer

from animerec.cli._app import WorkspaceOpt, app, workspace


@app.command()
def serve(
    ws: WorkspaceOpt = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.", min=1, max=65535)] = 8000,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="SQLAlchemy URL of the feedback database (default: SQLite WS/feedback.db), "
            "e.g. postgresql+psycopg://user:pw@host/animerec.",
            show_default=False,
        ),
    ] = None,
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model",
            "-m",
            help="A model to serve (repeat for several; default: hybrid, ease, itemknn, "
            "popularity — those available). Fitted on all workspace users once, then cached.",
            show_default=False,
        ),
    ] = None,
    default_model: Annotated[
        str | None,
        typer.Option(help="The model used when a request names none (default: hybrid, else ease)."),
    ] = None,
    embedder: Annotated[
        str | None,
        typer.Option(help="Embedder for the content and hybrid models (default: theirs)."),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            help="uvicorn worker processes (each loads the models; the database is shared).",
            min=1,
        ),
    ] = 1,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Serve the API (OpenAPI docs at /docs) and the web page (/) for the workspace."""
    import json
    import os

    import uvicorn

    from animerec.serve.app import SERVE_ENV, create_app
    from animerec.serve.state import available_models

    w = workspace(ws)
    w.require_ingested()
    models = list(model) if model else available_models()
    # Validates the names, the default and the workspace before anything starts.
    api = create_app(w, db_url=db, models=models, default_model=default_model, embedder=embedder)
    if workers == 1:
        uvicorn.run(api, host=host, port=port, log_level=log_level)
        return
    from animerec.recommend.store import fitted
    from animerec.serve.db import FeedbackStore

    for name in models:  # fit once here, so the workers only load (and never race to fit)
        fitted(w, name, embedder=embedder, log=typer.echo)
    FeedbackStore.for_workspace(w, db).close()  # the tables exist before the workers start
    os.environ[SERVE_ENV] = json.dumps(
        {
            "workspace": str(w.root.resolve()),
            "db_url": db,
            "models": models,
            "default_model": default_model,
            "embedder": embedder,
        }
    )
    uvicorn.run(
        "animerec.serve.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
    )
