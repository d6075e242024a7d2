"""`animerec feedback export`: the ratings people gave through the API, in the Kaggle layout."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from animerec.cli._app import WorkspaceOpt, app, workspace

feedback_app = typer.Typer(
    help="Ratings stored by `animerec serve` (users of the API and the web page).",
    no_args_is_help=True,
)
app.add_typer(feedback_app, name="feedback")


@feedback_app.command("export")
def export(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="CSV to write (user_id,anime_id,rating).")
    ],
    ws: WorkspaceOpt = None,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="SQLAlchemy URL of the feedback database (default: SQLite WS/feedback.db).",
            show_default=False,
        ),
    ] = None,
    user_offset: Annotated[
        int,
        typer.Option(
            help="Added to every API user id so exported ids never collide with MAL user ids.",
            min=0,
        ),
    ] = 1_000_000_000,
) -> None:
    """Write the stored ratings as ``rating_complete.csv`` rows (for `ingest`, labels, fine-tuning)."""
    from animerec.errors import AnimerecError
    from animerec.serve.db import FEEDBACK_DB, FeedbackStore

    w = workspace(ws)
    if db is None and not (w.root / FEEDBACK_DB).exists():
        raise AnimerecError(
            f"{w.root / FEEDBACK_DB}: no feedback database (run `animerec serve` and rate something, "
            "or pass --db URL)"
        )
    store = FeedbackStore.for_workspace(w, db)
    try:
        n = store.export_csv(out, user_offset=user_offset)
        users, _ = store.count()
    finally:
        store.close()
    typer.echo(f"wrote {n:,} ratings of {users:,} users to {out} (user ids + {user_offset:,})")
