#!/bin/sh
# Speed on real graphs: the zoo's diffusers architectures exported at the
# bench scale (tests/models/zoo/make_zoo.py --scale bench: hidden 384, 256-512
# tokens, in the zoo's own environment), then edge FP32/INT8 against ONNX
# Runtime FP32/INT8 (quantize_dynamic) on the same ONNX files at 1 and 2
# threads, alternated (bench/peers/zoo_speed.py, under the peers'
# environment), written to bench/results/zoo_speed.{json,md}. With --quick:
# the committed tiny zoo, 1 round at 1 thread, into the work folder (no
# export, no zoo environment).
#
#   bench/run_zoo_speed.sh [--quick] [zoo_speed.py options, e.g. --models dit,flux]
# Needs: a configured build (EDGE_BUILD_DIR, default ./build), python3-venv and
# PyPI (both environments pull PyPI's torch: about 3 GB each, shared through
# pip's cache). The exports are kept in ZOO_BENCH_DIR (default
# ${TMPDIR:-/tmp}/edge-zoo-bench) and reused when present.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${EDGE_BUILD_DIR:-$ROOT/build}
cmake --build "$BUILD" --target edge-run edge-convert
. "$ROOT/bench/peers/venv.sh"
if [ "${1:-}" = "--quick" ]; then
  exec "$VENV/bin/python" "$ROOT/bench/peers/zoo_speed.py" --build-dir "$BUILD" "$@"
fi
ZOO=${ZOO_BENCH_DIR:-${TMPDIR:-/tmp}/edge-zoo-bench}
if [ ! -f "$ZOO/.complete" ]; then
  bash "$ROOT/tests/models/zoo/make_zoo.sh" --scale bench --out "$ZOO"
  touch "$ZOO/.complete"
fi
exec "$VENV/bin/python" "$ROOT/bench/peers/zoo_speed.py" --build-dir "$BUILD" --zoo "$ZOO" "$@"
