#!/usr/bin/env bash
# Rebuilds the .fb files from the checkpoints: exports ONNX with Debian's
# PyTorch (export_onnx.py), then converts with edge-convert, each model to FP32
# and to mixed precision. The repo ships glyph_dit.fb (FP32, the main job, 7.3 MB);
# with models/latent/latent_dit.fb (2.2 MB) the shipped model files stay under
# 10 MB. The other three are made here on demand (git-ignored).
# Usage: bash models/demo/build_fb.sh [BUILD_DIR]   (default: build)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-build}"
conv="$build/converter/edge-convert"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
/usr/bin/python3 "$here/export_onnx.py" --out "$tmp"
common=(--sampler flow --steps 20 --guidance 3 --roles x=latent,t=timestep,y=condition
        --num-classes 16 --null-class 16 --output-kind pixels --timestep-scale 1000)
"$conv" "$tmp/glyph_dit.onnx" -o "$here/glyph_dit.fb" "${common[@]}" --shift 1 --latent 1x32x32
if "$conv" --help 2>&1 | grep -q -- "--precision"; then
  "$conv" "$tmp/glyph_dit.onnx" -o "$here/glyph_dit_mixed.fb" "${common[@]}" --shift 1 --latent 1x32x32 \
    --precision mixed
  "$conv" "$tmp/glyph_video_dit.onnx" -o "$here/glyph_video_dit_mixed.fb" "${common[@]}" --shift 2 \
    --latent 8x1x32x32 --precision mixed
fi
"$conv" "$tmp/glyph_video_dit.onnx" -o "$here/glyph_video_dit.fb" "${common[@]}" --shift 2 --latent 8x1x32x32
ls -l "$here"/*.fb
