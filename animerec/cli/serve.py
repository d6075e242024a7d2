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
            help="A model to serve (repeat for several; default: adaptive, hybrid, ease, itemknn, "
            "popularity — those available). Fitted on all workspace users once, then cached.",
            show_default=False,
        ),
    ] = None,
    default_model: Annotated[
        str | None,
        typer.Option(
            help="The model used when a request names none (default: adaptive, else hybrid, else ease)."
        ),
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
    user_rate: Annotated[
        str,
        typer.Option(
            envvar="ANIMEREC_USER_RATE",
            help="User creations allowed per client address ('off' for none), e.g. 10/minute;200/day.",
        ),
    ] = "10/minute;200/day",
    write_rate: Annotated[
        str,
        typer.Option(
            envvar="ANIMEREC_WRITE_RATE",
            help="Rating writes and deletions allowed per client address ('off' for no limit).",
        ),
    ] = "120/minute",
    rate_storage: Annotated[
        str,
        typer.Option(
            envvar="ANIMEREC_RATE_STORAGE",
            help="Where rate counts live: memory:// (per worker) or e.g. redis://host:6379.",
        ),
    ] = "memory://",
    max_body: Annotated[
        int,
        typer.Option(envvar="ANIMEREC_MAX_BODY", help="Largest request body in bytes.", min=1),
    ] = 1 << 20,
    max_upload: Annotated[
        int,
        typer.Option(
            envvar="ANIMEREC_MAX_UPLOAD", help="Largest upload (a MAL list) in bytes.", min=1
        ),
    ] = 8 << 20,
    cors_origin: Annotated[
        list[str] | None,
        typer.Option(
            "--cors-origin",
            envvar="ANIMEREC_CORS_ORIGIN",
            help="An origin allowed to call the API from a browser (repeat; default: none).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve the API (OpenAPI docs at /docs) and the web page (/) for the workspace."""
    import json
    import os

    import uvicorn

    from animerec.serve.app import SERVE_ENV, create_app
    from animerec.serve.protection import Protection
    from animerec.serve.state import available_models

    w = workspace(ws)
    w.require_ingested()
    models = list(model) if model else available_models()
    protection = Protection(
        user_rate=user_rate,
        write_rate=write_rate,
        rate_storage=rate_storage,
        max_body=max_body,
        max_upload=max_upload,
        cors_origins=tuple(cors_origin or ()),
    )
    # Validates the names, the default and the workspace before anything starts.
    api = create_app(
        w,
        db_url=db,
        models=models,
        default_model=default_model,
        embedder=embedder,
        protection=protection,
    )
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
            "protection": protection.as_dict(),
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
