#!/usr/bin/env bash
# Builds the latent demo's model files from the checkpoints: exports ONNX with Debian's
# PyTorch (export_onnx.py: denoiser, decoder, tile decoder), then converts with edge-convert
# (FP32) with the pipeline metadata the DiT was trained for (latent_dit.json "sampling").
#
#   latent_dit.fb            the denoiser and the decoder in one file (shipped): edge-run
#                            samples the latents and decodes them into a PNG
#   latent_dit_tiled.fb      the same denoiser with the decoder converted for 8x8 latent
#                            tiles: edge-run decodes the 16x16 latent in 3x3 blended tiles
#
# Usage: bash models/latent/build_fb.sh [BUILD_DIR [OUT_DIR [EDGE_CONVERT_FLAGS...]]]
#   BUILD_DIR default build; OUT_DIR default this folder; further arguments go to both
#   conversions (bench/conv_int8.sh: OUT_DIR elsewhere and --conv-precision int8)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-build}"
out="${2:-$here}"
shift $(( $# < 2 ? $# : 2 ))
conv="$build/converter/edge-convert"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
/usr/bin/python3 "$here/export_onnx.py" --dir "$here" --out "$tmp"
read -r steps guidance shift classes < <(/usr/bin/python3 -c '
import json, sys
m = json.load(open(sys.argv[1]))
s = m["sampling"]
print(s["steps"], s["guidance"], s["shift"], m["config"]["num_classes"])' "$here/latent_dit.json")
pipeline=(--name latent_dit --sampler flow --steps "$steps" --guidance "$guidance" --shift "$shift"
          --roles x=latent,t=timestep,y=condition --num-classes "$classes" --null-class "$classes"
          --output-kind latent --timestep-scale 1000 --latent 4x16x16)
mkdir -p "$out"
"$conv" "$tmp/latent_dit.onnx" -o "$out/latent_dit.fb" "${pipeline[@]}" --decoder "$tmp/latent_decoder.onnx" "$@"
"$conv" "$tmp/latent_dit.onnx" -o "$out/latent_dit_tiled.fb" "${pipeline[@]}" \
  --decoder "$tmp/latent_decoder_tile.onnx" --decode-tile-overlap 2 "$@"
ls -l "$out"/*.fb
