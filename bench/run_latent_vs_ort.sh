#!/bin/sh
# The latent demo's whole generation (20 guided steps + decode), edge-run
# against ONNX Runtime on the same ONNX graphs, 2 and 1 threads
# (bench/peers/latent_vs_ort.py), written to bench/results/latent_vs_ort.{json,md}
# (with --quick: a 2-step smoke run into the work folder). Waits up to
# 10 minutes for a 1-minute load average below 1.5 before timing.
#
#   bench/run_latent_vs_ort.sh [--quick] [latent_vs_ort.py options]
# Needs: a configured build (EDGE_BUILD_DIR, default ./build), /usr/bin/python3
# with torch and onnx (Debian's PyTorch exports the graphs), python3-venv and
# PyPI for the peers' environment (bench/peers/venv.sh).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${EDGE_BUILD_DIR:-$ROOT/build}
cmake --build "$BUILD" --target edge-run edge-convert
. "$ROOT/bench/peers/venv.sh"
exec /usr/bin/python3 "$ROOT/bench/peers/latent_vs_ort.py" --build-dir "$BUILD" --peer-python "$VENV/bin/python" "$@"
