#!/usr/bin/env bash
# Memory and time of a 256x256 decode, whole against tiled (bench/decode_memory.py).
# Uses the model zoo's virtual environment (torch 2.x, diffusers from PyPI),
# made here if missing, like tests/models/zoo/make_zoo.sh does.
# Usage: bash bench/decode_memory.sh [BUILD_DIR]   (default: build)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-build}"
venv="${ZOO_VENV:-$HOME/.cache/edge-zoo-venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
fi
"$venv/bin/pip" install -q -r "$here/../tests/models/zoo/requirements.txt"
exec "$venv/bin/python" "$here/decode_memory.py" --build "$build"
