#!/bin/sh
# Runs the decoder convolution benchmark recorded in bench/results/conv_decoder.{json,md}:
# edge's NCHW Conv2d against XNNPACK's NHWC convolution on the shapes of a
# 256x256-pixel AutoencoderKL decode and its tiles (edge-bench conv's list),
# 1 and 2 threads, alternating, with the FP32 FMA peak measured in the same run.
# Usage: bench/run_conv.sh BUILD_DIR   (writes the two files)
set -e
B=${1:-build}/bench/edge-bench
OUT=$(dirname "$0")/results
{
  echo "{\"bench\":\"machine\",\"uptime\":\"$(uptime | sed 's/.*load/load/')\",\"cpu\":\"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')\",\"nproc\":$(nproc)}"
  "$B" conv --threads 1,2 --reps 9 --json
  # Where edge has no SIMD GEMM (its portable 4x4 kernel, as on ARM today):
  # the case for the Conv2d binding's XNNPACK path.
  "$B" conv --isa scalar --threads 1 --reps 3 --shape 128,128,64,64,3 --json
  "$B" conv --isa scalar --threads 1 --reps 3 --shape 32,32,64,64,3 --json
  echo "{\"bench\":\"machine\",\"uptime_after\":\"$(uptime | sed 's/.*load/load/')\"}"
} > "$OUT/conv_decoder.json"
/usr/bin/python3 "$(dirname "$0")/report/conv_table.py" "$OUT/conv_decoder.json" > "$OUT/conv_decoder.md"
