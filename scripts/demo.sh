#!/usr/bin/env bash
# The main job: builds edge-run (runtime only) and generates a grid of samples,
# one per class, from the demo model shipped in models/demo/.
# Usage: bash scripts/demo.sh [extra edge-run options]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --runtime-only
cmake -S . -B build-demo -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DEDGE_BUILD_CONVERTER=OFF -DEDGE_BUILD_TESTS=OFF -DEDGE_BUILD_BENCH=OFF >/dev/null
cmake --build build-demo --target edge-run
mkdir -p out
MODEL=models/demo/glyph_dit.fb
./build-demo/runtime/edge-run "$MODEL" --threads "$(nproc)" --seed 0 --png-scale 3 --out out/glyphs.png "$@"
echo "the picture: $(pwd)/out/glyphs.png"
