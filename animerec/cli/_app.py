"""The typer application that every command module registers itself on."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from animerec.workspace import ENV_VAR, Workspace, default_workspace

app = typer.Typer(
    name="animerec",
    help="Anime recommendations from MyAnimeList ratings and fine-tuned text embedders.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

WorkspaceOpt = Annotated[
    Path | None,
    typer.Option(
        "--workspace",
        "-w",
        help=f"Workspace folder (default: ${ENV_VAR}, else ./animerec-workspace).",
        show_default=False,
    ),
]


def workspace(path: Path | None) -> Workspace:
    return Workspace(path if path is not None else default_workspace())
