"""``python benchmarks/embedding_study.py -w WS STEP ...``: the command docs/experiments.md gives.

The study itself is the package next to this file (``benchmarks/embedding_study/``); this file
only runs it, so the documented command keeps working (``python -m benchmarks.embedding_study``
does the same from the repository root).
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":
    # Run as a script, this folder is on sys.path and the package (a folder) wins over this file.
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from embedding_study.cli import main

    main()
