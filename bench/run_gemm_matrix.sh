#!/bin/sh
# Runs the GEMM benchmark matrix recorded in bench/results/gemm.{md,json}:
# both DiT-B linear shapes, M = 1024 and the memory-bound M = 1, 4, 16,
# int8 and nvfp4 (each alternating with XNNPACK FP32), 1 and 2 threads.
# Usage: bench/run_gemm_matrix.sh BUILD_DIR > gemm.json
set -e
B=${1:-build}/bench/edge-bench
for shape in "768 3072" "3072 768"; do
  set -- $shape
  for m in 1024 16 4 1; do
    reps=15
    [ "$m" -lt 1024 ] && reps=200
    for t in 1 2; do
      for p in int8 nvfp4; do
        "$B" gemm --m "$m" --k "$1" --n "$2" --precision "$p" --threads "$t" --reps "$reps" --json
      done
    done
  done
done
