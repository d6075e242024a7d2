"""The ``animerec`` command. Each command lives in its own module and registers on ``app``."""

from __future__ import annotations

import sys

from animerec.cli._app import app

# Command modules register themselves on `app` when imported.
from animerec.cli import ingest  # noqa: E402,F401  isort: skip
from animerec.cli import labels  # noqa: E402,F401  isort: skip
from animerec.cli import describe  # noqa: E402,F401  isort: skip
from animerec.cli import evaluate  # noqa: E402,F401  isort: skip
from animerec.cli import serve  # noqa: E402,F401  isort: skip
from animerec.cli import feedback  # noqa: E402,F401  isort: skip
from animerec.cli import finetune  # noqa: E402,F401  isort: skip
from animerec.cli import recommend  # noqa: E402,F401  isort: skip


def main() -> None:
    """Entry point: run the app and turn expected failures into a one-line error, exit code 1."""
    from animerec.errors import AnimerecError

    try:
        rv = app(standalone_mode=False)
    except AnimerecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    except SystemExit:
        raise
    except Exception as exc:  # click's usage errors are handled by typer itself
        import click
        import typer

        # typer >= 0.20 vendors click (typer._click): its usage errors derive from TyperException.
        if isinstance(exc, (click.exceptions.ClickException, typer.TyperException)) and hasattr(
            exc, "show"
        ):
            exc.show()
            sys.exit(getattr(exc, "exit_code", 2))
        if isinstance(exc, (click.exceptions.Abort, typer.Abort)):
            print("aborted", file=sys.stderr)
            sys.exit(1)
        raise
    if isinstance(rv, int) and rv:
        sys.exit(rv)


__all__ = ["app", "main"]
