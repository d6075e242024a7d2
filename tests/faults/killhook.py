"""Run ``animerec`` so that it stops dead at its Nth *publishing* rename (for the kill -9 tests).

A publishing rename is one whose destination lies under ``$KILLHOOK_UNDER`` outside any dot
folder (so not a step inside a temporary folder): ``os.replace``, ``os.rename`` (which
``Path.rename`` / ``Path.replace`` call) and the workspace's one-step folder swap. At the Nth,
the hook writes the destination to ``$KILLHOOK_MARKER`` and sleeps, for the test to kill -9 the
process at exactly that moment: everything new is written, nothing of it is published.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

RUN = (
    "import sys; sys.path.insert(0, {hook!r}); import killhook; killhook.install(); "
    "from animerec.cli import main; sys.argv = ['animerec'] + sys.argv[1:]; main()"
)


def _publishing(dst: object, under: str) -> bool:
    path = os.path.realpath(os.fspath(dst))  # type: ignore[arg-type]
    if not path.startswith(under + os.sep):
        return False
    return not any(part.startswith(".") for part in Path(path).relative_to(under).parts)


def install() -> None:
    under = os.path.realpath(os.environ["KILLHOOK_UNDER"])
    at = int(os.environ.get("KILLHOOK_AT", "1"))
    marker = Path(os.environ["KILLHOOK_MARKER"])
    seen = [0]

    def wrap(fn):
        def inner(src, dst, *args, **kwargs):
            if _publishing(dst, under):
                seen[0] += 1
                if seen[0] == at:
                    marker.write_text(str(dst))
                    while True:  # the test kills us here
                        time.sleep(60)
            return fn(src, dst, *args, **kwargs)

        return inner

    os.replace = wrap(os.replace)
    os.rename = wrap(os.rename)
    import animerec.workspace as workspace

    workspace._exchange = wrap(workspace._exchange)


def command(*args: str) -> list[str]:
    """The argv that runs ``animerec ARGS`` with the hook installed."""
    return [sys.executable, "-c", RUN.format(hook=str(Path(__file__).parent)), *args]
