#!/bin/sh
# The attention kernel alone (12 heads, d=64, FP32; DiT-B/2 at 1024 tokens
# and 4096 tokens), 1 and 2 threads: dense, and block-sparse over 64-key
# tiles at 25% density run right after dense in the same process (its
# speed-up is per invocation). One JSON line per invocation.
# Usage: bench/run_attention.sh BUILD_DIR [--quick] > bench/results/model_attention.jsonl
set -e
B=${1:-build}/bench/edge-bench
if [ "${2:-}" = "--quick" ]; then
  "$B" attention --quick --json
  exit 0
fi
for spec in 1024:1 4096:1 1024:2 4096:2; do
  "$B" attention --tokens "${spec%:*}" --heads 12 --dim 64 --threads "${spec#*:}" --density 0.25 --json
done
