#!/bin/sh
# The model-level benchmark: edge against ONNX Runtime (npm onnxruntime-node)
# and PyTorch (Debian python3-torch) on the same DiT-B/2-like network, plus the
# attention kernel alone. Writes the JSON, Markdown and plots of the latest run
# to bench/results/ (with --quick: a small smoke run into BUILD/bench-quick/).
#
#   bench/run_all.sh [--quick] [compare.py options, e.g. --reuse --rounds 5]
# Needs: a configured build (EDGE_BUILD_DIR, default ./build), node + npm,
# /usr/bin/python3 with torch, onnx, numpy, matplotlib; libtcmalloc-minimal4
# is preloaded into PyTorch when present (PyTorch at its best).
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

cmake --build "$BUILD" --target edge-bench edge-run
if [ ! -d "$ROOT/bench/peers/node_modules/onnxruntime-node" ]; then
  # The install script would fetch GPU parts; the CPU library ships in the package.
  (cd "$ROOT/bench/peers" && ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund)
fi

ATT=$OUT/model_attention.jsonl
: > "$ATT"
if [ -n "$QUICK" ]; then
  "$BUILD/bench/edge-bench" attention --quick --json >> "$ATT"
else
  for spec in 1024:1 4096:1 1024:2 4096:2; do
    "$BUILD/bench/edge-bench" attention --tokens "${spec%:*}" --heads 12 --dim 64 --threads "${spec#*:}" \
      --json >> "$ATT"
  done
fi

cd "$ROOT"
$PY bench/peers/compare.py --build-dir "$BUILD" --work "${TMPDIR:-/tmp}/edge-bench-compare${QUICK:+-quick}" \
  --out "$OUT/model.json" $QUICK "$@"
$PY bench/report/report.py "$OUT/model.json" --attention "$ATT" --md "$OUT/model.md" \
  --plots "$OUT/model" --headline "$OUT/model_headline.md"
echo "results in $OUT"
