#!/usr/bin/env bash
# Builds edge and runs every test: the release build's unit, model and
# converter tests (ctest); the unit tests again under ASan + UBSan and in a
# build without XNNPACK; then the ARM cross builds with their tests under
# qemu-user and the core size report.
#
# Emulation is slow, so the ARM stage runs last, skips the two slowest unit
# tests under emulation (they run natively above), and has a time budget
# (EDGE_CROSS_BUDGET_S, default 2700 s): a stage that runs out of it is
# reported and stopped without failing the run; a test failure fails it.
# EDGE_SKIP_CROSS=1 skips the ARM stage.
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

if [ "${EDGE_SKIP_CROSS:-0}" != 1 ]; then
  budget=${EDGE_CROSS_BUDGET_S:-2700}
  export EDGE_CROSS_MODEL_TESTS=${EDGE_CROSS_MODEL_TESTS:-0}
  export EDGE_CROSS_EXCLUDE=${EDGE_CROSS_EXCLUDE:-"OpsUnary.AllVariantsMatchDoubleReference|Session.DitB2ArenaWithinBoundOfPeakLiveSet"}
  cross_stage() {
    local name=$1; shift
    echo "== $name"
    local rc=0
    timeout "$budget" "$@" || rc=$?
    if [ $rc -eq 124 ]; then
      echo "warning: $name ran out of its ${budget}s budget under emulation; stopped (not a test failure)"
    elif [ $rc -ne 0 ]; then
      echo "$name failed (exit $rc)"
      exit $rc
    fi
  }
  cross_stage "ARM cross builds, unit tests under qemu-user" bash scripts/cross-test.sh
  cross_stage "core binary sizes (x86-64, aarch64, armhf)" bash scripts/size-report.sh
fi
echo "all test stages passed"
