#!/usr/bin/env bash
# Regenerates the model zoo (tests/models/zoo/<model>/...) with torch 2.x from
# PyPI, in a virtual environment outside the repository (ZOO_VENV, default
# ~/.cache/edge-zoo-venv). One command on a fresh machine with python3-venv:
#
#   bash tests/models/zoo/make_zoo.sh [NAME ...]
#
# PyPI's Linux torch wheel depends on the CUDA runtime wheels (about 3 GB to
# download and install), even though the zoo only runs on the CPU.
# Versions: pinned in requirements.txt beside this script.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${ZOO_VENV:-$HOME/.cache/edge-zoo-venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
fi
"$venv/bin/pip" install -q -r "$here/requirements.txt"
exec "$venv/bin/python" "$here/make_zoo.py" "$@"
