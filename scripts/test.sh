#!/usr/bin/env bash
# Builds edge and runs every test: the release build's unit, model and
# converter tests (ctest), then the unit tests again under ASan + UBSan.
# Usage: bash scripts/test.sh        (from a fresh clone; installs dependencies)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
JOBS=${JOBS:-$(nproc)}

echo "== release build"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$JOBS"
echo "== tests"
ctest --test-dir build --output-on-failure -j"$JOBS"

if [ "${EDGE_SKIP_CROSS:-0}" != 1 ]; then
  echo "== core binary sizes (x86-64, aarch64, armhf)"
  bash scripts/size-report.sh
  echo "== ARM cross builds, tests under qemu-user"
  bash scripts/cross-test.sh
fi

echo "== ASan + UBSan build (unit tests)"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DEDGE_SANITIZE=ON \
  -DEDGE_BUILD_CONVERTER=OFF -DEDGE_BUILD_BENCH=OFF
cmake --build build-asan -j"$JOBS" --target edge_unit_tests
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure -j"$JOBS" -L unit

echo "== core build without XNNPACK (unit tests)"
cmake -S . -B build-noxnn -G Ninja -DCMAKE_BUILD_TYPE=Release -DEDGE_WITH_XNNPACK=OFF \
  -DEDGE_BUILD_CONVERTER=OFF -DEDGE_BUILD_BENCH=OFF
cmake --build build-noxnn -j"$JOBS" --target edge_unit_tests
ctest --test-dir build-noxnn --output-on-failure -j"$JOBS" -L unit
