#!/usr/bin/env bash
# Builds models/testbed/testbed_video_dit.fb (FP32, git-ignored) from the checkpoint:
# exports ONNX with Debian's PyTorch through models/demo/export_onnx.py's export()
# (opset 17, explicit attention, batch 2 = the conditional and unconditional pass),
# then converts with edge-convert with the pipeline metadata the model was trained for.
# Usage: bash models/testbed/build_fb.sh [BUILD_DIR]   (default: build)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-build}"
conv="$build/converter/edge-convert"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
/usr/bin/python3 - "$here" "$tmp" <<'PY'
import os, sys
here, out = sys.argv[1], sys.argv[2]
sys.path.insert(0, os.path.join(os.path.dirname(here), "demo"))
from export_onnx import export
export(here, "testbed_video_dit", batch=2, out_dir=out)
PY
"$conv" "$tmp/testbed_video_dit.onnx" -o "$here/testbed_video_dit.fb" --name testbed_video_dit \
  --sampler flow --steps 20 --guidance 3 --shift 2 --roles x=latent,t=timestep,y=condition \
  --num-classes 16 --null-class 16 --output-kind pixels --timestep-scale 1000 --latent 8x3x32x32
ls -l "$here/testbed_video_dit.fb"
