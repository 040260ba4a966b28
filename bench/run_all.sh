#!/bin/sh
# The model-level benchmark: edge against ONNX Runtime (the `onnxruntime`
# Python package) and PyTorch 2.x (eager with SDPA, dynamic INT8), both from
# PyPI in a virtual environment, on the same DiT-B/2-like network, plus the
# attention kernel alone, and the latent demo's whole generation against ONNX
# Runtime (bench/peers/latent_vs_ort.py), and the zoo's diffusers
# architectures against ONNX Runtime (bench/peers/zoo_speed.py). Writes the JSON, Markdown and plots
# of the latest run to bench/results/ (with --quick: a small smoke run into
# BUILD/bench-quick/); the JSON records the peers' versions.
#
#   bench/run_all.sh [--quick] [compare.py options, e.g. --reuse --rounds 5]
# Needs: a configured build (EDGE_BUILD_DIR, default ./build), python3-venv
# and PyPI (the peers' environment: EDGE_PEER_VENV, default
# ~/.cache/edge-peers-venv, from bench/peers/requirements.txt; PyPI's torch
# pulls about 3 GB of CUDA wheels), /usr/bin/python3 with torch, onnx, numpy,
# matplotlib (Debian's PyTorch exports the ONNX files, as the tests' oracle);
# libtcmalloc-minimal4 is preloaded into the peers when present.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${EDGE_BUILD_DIR:-$ROOT/build}
PY=/usr/bin/python3
QUICK=
OUT=$ROOT/bench/results
if [ "${1:-}" = "--quick" ]; then
  QUICK=--quick
  OUT=$BUILD/bench-quick
  shift
fi
mkdir -p "$OUT"

cmake --build "$BUILD" --target edge-bench edge-run edge-convert
. "$ROOT/bench/peers/venv.sh"

ATT=$OUT/model_attention.jsonl
sh "$ROOT/bench/run_attention.sh" "$BUILD" $QUICK > "$ATT"

cd "$ROOT"
$PY bench/peers/compare.py --build-dir "$BUILD" --peer-python "$VENV/bin/python" --work "${TMPDIR:-/tmp}/edge-bench-compare${QUICK:+-quick}" \
  --out "$OUT/model.json" $QUICK "$@"
$PY bench/report/report.py "$OUT/model.json" --attention "$ATT" --md "$OUT/model.md" \
  --plots "$OUT/model" --headline "$OUT/model_headline.md"
# The latent demo's whole generation against ONNX Runtime (about 30 s; no
# waiting for a quiet machine here: bench/run_latent_vs_ort.sh waits).
$PY bench/peers/latent_vs_ort.py --build-dir "$BUILD" --peer-python "$VENV/bin/python" \
  --work "${TMPDIR:-/tmp}/edge-latent-vs-ort${QUICK:+-quick}" --out-dir "$OUT" --max-wait 0 $QUICK
# Every zoo architecture (diffusers models through edge-convert), edge
# against ONNX Runtime on the same ONNX files: with --quick the committed tiny
# files, once each; the full run exports them at the bench scale first
# (bench/run_zoo_speed.sh, in the zoo's own environment).
if [ -n "$QUICK" ]; then
  "$VENV/bin/python" bench/peers/zoo_speed.py --build-dir "$BUILD" --quick \
    --work "${TMPDIR:-/tmp}/edge-zoo-speed-quick" --out-dir "$OUT"
else
  sh "$ROOT/bench/run_zoo_speed.sh"
fi
echo "results in $OUT"
