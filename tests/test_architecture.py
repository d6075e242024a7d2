"""The layers run one way and siblings import no circles: import-linter's contracts in
pyproject.toml, run as part of the test suite (so CI enforces them)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_linter_contracts_are_kept():
    exe = Path(sys.executable).with_name("lint-imports")
    assert exe.exists(), f"{exe}: import-linter is not installed (pip install -e '.[dev]')"
    run = subprocess.run(
        [str(exe), "--config", str(ROOT / "pyproject.toml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "0 broken" in run.stdout


def test_every_layer_is_named_in_the_contract():
    """A new top-level package must join a layer, or the contract would not check it."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    layers = next(c for c in config["contracts"] if c["type"] == "layers")["layers"]
    named = {m.strip() for layer in layers for m in layer.split("|")}
    package = ROOT / "animerec"
    present = {
        f"animerec.{p.stem}"
        for p in package.iterdir()
        if (p.is_dir() and (p / "__init__.py").exists())
        or (p.suffix == ".py" and p.stem != "__init__")
    }
    assert present <= named, f"not in a layer: {sorted(present - named)}"
