#!/bin/sh
# Runs the GEMM benchmark matrix recorded in bench/results/gemm*.json: both
# DiT-B linear shapes, M = 1024 and the memory-bound M = 1, 4, 16; int8,
# nvfp4 and edge's FP32 GEMM, each alternating with XNNPACK FP32; 1 and 2
# threads. The first line records the machine, the date, the load and the
# commit, since results from different machines share the format.
# Usage: bench/run_gemm_matrix.sh BUILD_DIR > bench/results/gemm_MACHINE.json
set -e
B=${1:-build}/bench/edge-bench
cpu=$(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1)
printf '{"bench":"machine","cpu":"%s","cores":%s,"date":"%s","loadavg":"%s","commit":"%s"}\n' \
  "$cpu" "$(nproc)" "$(date -u +%Y-%m-%dT%H:%MZ)" "$(cut -d' ' -f1-3 /proc/loadavg)" \
  "$(git -C "$(dirname "$0")" rev-parse --short HEAD 2>/dev/null || echo unknown)"
for shape in "768 3072" "3072 768"; do
  set -- $shape
  for m in 1024 16 4 1; do
    reps=15
    [ "$m" -lt 1024 ] && reps=200
    for t in 1 2; do
      for p in fp32 int8 nvfp4; do
        "$B" gemm --m "$m" --k "$1" --n "$2" --precision "$p" --threads "$t" --reps "$reps" --json
      done
    done
  done
done
printf '{"bench":"end","loadavg":"%s"}\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
