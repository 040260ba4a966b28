#!/usr/bin/env bash
# Cross-builds edge for ARM and runs its tests under qemu-user:
#   1. every unit test (edge_unit_tests, through ctest + CMAKE_CROSSCOMPILING_EMULATOR)
#      on the emulated CPU "max" (aarch64: NEON + dotprod + i8mm, so every kernel
#      variant executes; armhf: ARMv8 in AArch32 state with NEON);
#   2. CPU feature detection / kernel dispatch on several emulated CPUs
#      (scripts/cross-dispatch-check.sh);
#   3. if scripts/size-report.sh built it, the size-optimized core edge-run
#      against the full build on a small DiT (scripts/cross-core-check.sh);
#   4. the model tests (tests/python/test_*.py) with edge-run and the fixture
#      tool running under qemu and edge-convert from the host build
#      (EDGE_CROSS_MODEL_TESTS=0 skips them).
# The converter and bench are not built. Emulation is 10-50x slower than a
# board and says nothing about speed: no timing is taken here.
# Env: JOBS (parallel jobs), EDGE_CROSS_GTEST_FILTER (a gtest filter for the
# unit tests to run; default: all), EDGE_CROSS_EXCLUDE (a ctest regex of unit
# tests to skip, e.g. slow ones under emulation).
# Usage: bash scripts/cross-test.sh [aarch64] [armhf]   (default: both)
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc)}
ARCHES=("$@")
[ ${#ARCHES[@]} -gt 0 ] || ARCHES=(aarch64 armhf)

for arch in "${ARCHES[@]}"; do
  case "$arch" in
    aarch64) tc=toolchains/aarch64-linux-gnu.cmake; triple=aarch64-linux-gnu; qemu=qemu-aarch64 ;;
    armhf)   tc=toolchains/arm-linux-gnueabihf.cmake; triple=arm-linux-gnueabihf; qemu=qemu-arm ;;
    *) echo "unknown arch $arch" >&2; exit 2 ;;
  esac
  bash scripts/cross-deps.sh "$arch"
  dir=build-$arch
  echo "== cross build ($arch) in $dir"
  cmake -S . -B "$dir" -G Ninja --no-warn-unused-cli -DCMAKE_BUILD_TYPE=Release -DCMAKE_TOOLCHAIN_FILE="$tc" \
    -DEDGE_BUILD_CONVERTER=OFF -DEDGE_BUILD_BENCH=OFF -DEDGE_QEMU_CPU=max
  cmake --build "$dir" -j"$JOBS" --target edge_unit_tests edge-run make_dit_fixture

  echo "== unit tests under $qemu -cpu max ($arch)"
  filter_args=()
  if [ -n "${EDGE_CROSS_GTEST_FILTER:-}" ]; then
    # ctest runs one test per gtest name; -R/-E work on those names.
    filter_args=(-R "$(echo "$EDGE_CROSS_GTEST_FILTER" | sed 's/\*/.*/g; s/:/|/g')")
  fi
  if [ -n "${EDGE_CROSS_EXCLUDE:-}" ]; then
    filter_args+=(-E "$EDGE_CROSS_EXCLUDE")  # a ctest regex of test names to skip
  fi
  ctest --test-dir "$dir" --output-on-failure -j"$JOBS" -L unit "${filter_args[@]}"

  echo "== CPU features / kernel dispatch on emulated CPUs ($arch)"
  bash scripts/cross-dispatch-check.sh "$arch" "$dir"

  # If scripts/size-report.sh already built the size-optimized core.
  bash scripts/cross-core-check.sh "$arch"

  if [ "${EDGE_CROSS_MODEL_TESTS:-1}" != 0 ]; then
    echo "== model tests with edge-run under $qemu ($arch)"
    # The Python tests take their binaries from EDGE_BUILD_DIR: give them a
    # directory with the same layout whose edge-run and fixture tool run the
    # ARM binaries under qemu. edge-convert is a host tool: the host build's
    # (EDGE_HOST_BUILD_DIR, default build/) when it exists; the tests that
    # need it are skipped otherwise.
    emu=$dir/emu
    rm -rf "$emu" && mkdir -p "$emu/runtime" "$emu/tests" "$emu/converter"
    for b in runtime/edge-run tests/make_dit_fixture; do
      cat > "$emu/$b" <<WRAP
#!/bin/sh
exec $qemu -L /usr/$triple -E LD_LIBRARY_PATH=/usr/$triple/lib -cpu max "$(pwd)/$dir/$b" "\$@"
WRAP
      chmod +x "$emu/$b"
    done
    host_convert=$(pwd)/${EDGE_HOST_BUILD_DIR:-build}/converter/edge-convert
    [ -x "$host_convert" ] && ln -s "$host_convert" "$emu/converter/edge-convert"
    for t in tests/python/test_*.py; do
      if grep -q 'EDGE_CONVERT\|convert_util' "$t" && [ ! -x "$host_convert" ]; then
        echo "-- $t: skipped (no host edge-convert at $host_convert)"
        continue
      fi
      echo "-- $t"
      EDGE_BUILD_DIR="$(pwd)/$emu" EDGE_SOURCE_DIR="$(pwd)" PYTHONPATH="$(pwd)" /usr/bin/python3 "$t"
    done
  fi
done
echo "cross tests passed: ${ARCHES[*]}"
