"""The fault tests reuse the tiny data builders of the serving and fine-tuning tests."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
for sub in ("serve", "finetune"):
    if str(ROOT / "tests" / sub) not in sys.path:
        sys.path.insert(0, str(ROOT / "tests" / sub))
