"""Running ``animerec`` in-process the way a shell does: argv in, (exit code, stdout, stderr) out."""

from __future__ import annotations

import sys

from animerec.cli import main


def run_cli(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """``animerec ARGS…`` through :func:`animerec.cli.main` (its one-line errors included)."""
    monkeypatch.setattr(sys, "argv", ["animerec", *args])
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err
