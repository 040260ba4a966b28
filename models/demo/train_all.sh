#!/bin/bash
# Train everything on one CUDA GPU and pack the results into $OUT (default ./out):
# ckpt.tar (checkpoints, configs, sample grids, log, results) and onnx_torch2.tar
# (the same models exported by the local torch 2.x, checked against onnxruntime).
# Needs data/ made by make_glyphs.py next to this script.
cd "$(dirname "$0")"
OUT=${OUT:-$PWD/out}
mkdir -p "$OUT"
RES=$(mktemp -d)
export PYTHONUNBUFFERED=1
set -o pipefail
{ nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
  python3 -c 'import torch, numpy, PIL; print("torch", torch.__version__, "numpy", numpy.__version__, "PIL", PIL.__version__)'
  python3 train.py --data data --out "$RES" "$@"
  python3 export_onnx.py --dir "$RES" --out "$RES" --suffix _torch2
} 2>&1 | tee "$OUT/log.txt"
(cd "$RES" && tar cf "$OUT/ckpt.tar" *.pt *.json *.png *.txt; tar cf "$OUT/onnx_torch2.tar" *_torch2.onnx)
ls -la "$RES" "$OUT"
