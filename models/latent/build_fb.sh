#!/usr/bin/env bash
# Builds the latent demo's model files from the checkpoints: exports ONNX with Debian's
# PyTorch (export_onnx.py: denoiser, decoder, tile decoder), then converts with edge-convert
# (FP32) with the pipeline metadata the DiT was trained for (latent_dit.json "sampling").
#
#   latent_dit.fb            when edge-convert takes --decoder: the denoiser and the decoder in
#                            one file (what edge-run turns into a PNG); otherwise the denoiser
#                            alone (output kind latent, an .npy of latents)
#   latent_denoiser.fb       with --decoder only: the denoiser alone, for single-graph checks
#   latent_decoder.fb        the decoder alone: z [1, 4, 16, 16] -> image [1, 3, 64, 64]
#   latent_decoder_tile.fb   the decoder at a tile: z [1, 4, 8, 8] -> image [1, 3, 32, 32]
#
# Usage: bash models/latent/build_fb.sh [BUILD_DIR]   (default: build)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-build}"
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
if "$conv" --help 2>&1 | grep -q -- "--decoder"; then
  "$conv" "$tmp/latent_dit.onnx" -o "$here/latent_dit.fb" "${pipeline[@]}" --decoder "$tmp/latent_decoder.onnx"
  "$conv" "$tmp/latent_dit.onnx" -o "$here/latent_denoiser.fb" "${pipeline[@]}"
else
  echo "edge-convert has no --decoder: denoiser and decoder go to two files"
  "$conv" "$tmp/latent_dit.onnx" -o "$here/latent_dit.fb" "${pipeline[@]}"
fi
"$conv" "$tmp/latent_decoder.onnx" -o "$here/latent_decoder.fb" --name latent_decoder
"$conv" "$tmp/latent_decoder_tile.onnx" -o "$here/latent_decoder_tile.fb" --name latent_decoder_tile
ls -l "$here"/*.fb
