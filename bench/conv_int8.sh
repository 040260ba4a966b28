#!/usr/bin/env bash
# INT8 Conv2d weights (edge-convert --conv-precision int8) measured on the latent demo
# (models/latent): its ONNX exported and converted twice with build_fb.sh's pipeline flags,
# FP32 and --conv-precision int8; a 20-step guided generation of all 16 classes by each, run
# alternately 3 times, 1 thread (bench/quality/conv_int8.py: PSNR of the decoded images, the
# decoder's CPU time and per-op profile); then edge-bench conv --precision int8 on the
# decoder's conv shapes and on the SD-style decoder shapes of bench/run_conv.sh.
# Writes bench/results/conv_int8.md and conv_int8.json (the edge-bench lines).
# Usage: bash bench/conv_int8.sh [BUILD_DIR]   (default: build)
set -euo pipefail
B="${1:-build}"
here="$(cd "$(dirname "$0")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
bash "$here/../models/latent/build_fb.sh" "$B" "$tmp/fp32" >/dev/null
bash "$here/../models/latent/build_fb.sh" "$B" "$tmp/int8" --conv-precision int8 >/dev/null
bench="$B/bench/edge-bench conv --precision int8 --threads 1 --reps 5 --no-xnnpack --json"
{
  # The latent decoder's conv shapes (C,O,H,W,K), then the SD-style list.
  for s in 4,48,16,16,3 48,48,16,16,3 48,48,32,32,3 48,32,32,32,3 48,32,32,32,1 32,32,32,32,3 \
           32,32,64,64,3 32,3,64,64,3; do
    $bench --shape "$s"
  done
  $bench
} > "$here/results/conv_int8.json"
out="$here/results/conv_int8.md"
{
  echo "# INT8 Conv2d weights (--conv-precision int8): quality and time"
  echo
  echo "Measured $(date -u +%Y-%m-%d) on $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'),"
  echo "$(nproc) cores (AVX2 + FMA, no VNNI), shared with other work: $(uptime | sed 's/.*load/load/') before."
  echo "Made by \`bash bench/conv_int8.sh build\`."
  echo
  echo "## Latent demo (models/latent): 16 classes, 20 steps, guidance 3, seed 0"
  echo
  echo "Files: \`bash models/latent/build_fb.sh build OUT/fp32\` and"
  echo "\`bash models/latent/build_fb.sh build OUT/int8 --conv-precision int8\` (the shipped pipeline flags;"
  echo "the FP32 file is the shipped latent_dit.fb bit for bit). Every Conv2d of both graphs is INT8 in"
  echo "the second: the denoiser's PatchEmbed and the decoder's 15."
  echo
  /usr/bin/python3 "$here/quality/conv_int8.py" --edge-run "$B/runtime/edge-run" \
    --fp32 "$tmp/fp32/latent_dit.fb" --int8 "$tmp/int8/latent_dit.fb" --rounds 3 | sed "s#$tmp#OUT#g"
  echo
  echo "## Conv2d kernels alone (edge-bench conv --precision int8)"
  echo
  echo "\`$B/bench/edge-bench conv --precision int8 --threads 1 --reps 5 --no-xnnpack --json [--shape C,O,H,W,K]\`:"
  echo "edge's FP32 and INT8 Conv2d alternated in one process, medians of 5; the first rows are the latent"
  echo "decoder's shapes (custom), then the SD-style decoder shapes of bench/run_conv.sh. Max rel diff: INT8"
  echo "against FP32 (weights N(0, 0.05), inputs N(0, 1)), the quantization error of one layer."
  echo
  /usr/bin/python3 "$here/report/conv_table.py" --int8 "$here/results/conv_int8.json"
  echo
  echo "## Reading"
  echo
  echo "INT8 convolution is an option for quality per byte (weights 4x smaller), not for speed on this"
  echo "machine: without VNNI the INT8 GEMM multiplies with vpmaddwd, one per cycle, which is about the"
  echo "throughput of FP32 FMA, and the INT8 path adds work the FP32 one does not have: an im2col row per"
  echo "output pixel in FP32, its quantization, and the transposition of the [pixels, O] result into NCHW."
  echo "So it is slower here, most where the GEMM is small next to that work: few input channels"
  echo "(conv_in), 1x1 layers (their FP32 path reads the input in place) and few output channels (conv_out)."
  echo "On CPUs with an INT8 dot product (AVX-512 VNNI, AVX-VNNI, ARM dotprod / i8mm) the GEMM part runs on"
  echo "faster kernels of the same family; the INT8 Conv2d has not been timed on one."
} > "$out"
cat "$out"
