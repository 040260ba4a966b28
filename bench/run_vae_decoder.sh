#!/bin/sh
# A whole VAE decode, edge vs ONNX Runtime (bench/vae_decoder.py), written to
# bench/results/vae_decoder.{json,md}. Needs the model zoo's virtual
# environment (bash tests/models/zoo/make_zoo.sh makes it, in ZOO_VENV,
# default ~/.cache/edge-zoo-venv).
# Usage: bench/run_vae_decoder.sh BUILD_DIR
set -e
HERE=$(dirname "$0")
VENV=${ZOO_VENV:-$HOME/.cache/edge-zoo-venv}
exec "$VENV/bin/python" "$HERE/vae_decoder.py" --build "${1:-build}" --out "$HERE/results"
