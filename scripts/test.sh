#!/usr/bin/env bash
# Builds edge and runs every test: the release build's unit, model and
# converter tests (ctest); the unit tests again under ASan + UBSan and in a
# build without XNNPACK; the converter tests under ASan + UBSan; the threaded
# unit tests and two generations under TSan; then the ARM cross builds with
# their tests under qemu-user, the core size report and the examples built
# against an installed aarch64 package. After the release build's tests: the
# examples against the installed x86-64 package (static; and shared, in the
# build without XNNPACK) and the benchmark's quick run.
#
# Emulation is slow, so the ARM stage runs last, skips the two slowest unit
# tests under emulation (they run natively above), and has a time budget
# (EDGE_CROSS_BUDGET_S, default 2700 s): a stage that runs out of it is
# reported INCOMPLETE and fails the run, as a test failure does. The log ends
# with one line per stage.
# EDGE_SKIP_CROSS=1 skips the ARM stage.
# Usage: bash scripts/test.sh        (from a fresh clone; installs dependencies)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
JOBS=${JOBS:-$(nproc)}
stage_results=()
cross_failed=0

echo "== release build"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$JOBS"
echo "== tests"
ctest --test-dir build --output-on-failure -j"$JOBS"
stage_results+=("passed: release build, unit + model + converter tests")

# Embedding: cmake --install into a temporary prefix, examples/ built against
# that package (find_package and pkg-config) and checked against edge-run.
echo "== examples from the installed package (static libedge)"
bash scripts/examples-check.sh x86_64 build
stage_results+=("passed: examples built against the installed static package")

# The benchmark as a newcomer runs it (smoke run: one small block, 2 steps;
# the peers' virtual environment comes from PyPI once, then is reused).
echo "== bench/run_all.sh --quick"
bash bench/run_all.sh --quick
stage_results+=("passed: bench/run_all.sh --quick")

# The lower ISA tiers end to end: Session dispatch, the scalar kernels and
# the XNNPACK Linear path only run where the CPU's best tier is capped.
for cap in avx2 scalar; do
  echo "== unit tests and one model test with EDGE_ISA_CAP=$cap"
  EDGE_ISA_CAP=$cap ctest --test-dir build --output-on-failure -j"$JOBS" -L unit
  EDGE_ISA_CAP=$cap ctest --test-dir build --output-on-failure -R py_test_dit_end_to_end
  stage_results+=("passed: unit + DiT model test with EDGE_ISA_CAP=$cap")
done

echo "== ASan + UBSan build (unit tests, allocation failures)"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DEDGE_SANITIZE=ON \
  -DEDGE_BUILD_CONVERTER=OFF -DEDGE_BUILD_BENCH=OFF
cmake --build build-asan -j"$JOBS" --target edge_unit_tests alloc_failure_test
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure -j"$JOBS" -L 'unit|fault'
stage_results+=("passed: ASan + UBSan unit tests and allocation failures")

# Also the shared libedge: installed from this build, the examples run on it.
echo "== core build without XNNPACK (unit tests, shared libedge with the examples)"
cmake -S . -B build-noxnn -G Ninja -DCMAKE_BUILD_TYPE=Release -DEDGE_WITH_XNNPACK=OFF \
  -DEDGE_BUILD_CONVERTER=OFF -DEDGE_BUILD_BENCH=OFF -DBUILD_SHARED_LIBS=ON
cmake --build build-noxnn -j"$JOBS" --target edge_unit_tests
ctest --test-dir build-noxnn --output-on-failure -j"$JOBS" -L unit
bash scripts/examples-check.sh x86_64 build-noxnn
stage_results+=("passed: unit tests without XNNPACK, examples on the shared libedge")

# The converter reads files from anywhere: its tests (hostile and truncated
# ONNX, every fixture, every opset, the size report, the model zoo, the prompt
# encoder) run once more with edge-convert and edge-run from the ASan + UBSan build.
echo "== converter tests under ASan + UBSan"
cmake -S . -B build-asan -DEDGE_BUILD_CONVERTER=ON
cmake --build build-asan -j"$JOBS" --target edge-convert edge-run
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure -j"$JOBS" \
  -R '^py_test_(convert_(errors|models|opsets|report|zoo|rewrites)|cond_encoder)$'
stage_results+=("passed: converter tests under ASan + UBSan")

# Races between the tasks of a parallel loop: the unit tests that run threads
# and whole generations (3 threads, guidance, step cache, sparse and INT8
# paths) under ThreadSanitizer. Debian's libpthreadpool is not instrumented,
# so this build links tests/support/tsan_pthreadpool.cc in its place; no
# XNNPACK (uninstrumented too). Single-threaded reference checks that take
# minutes under TSan are left to the stages above.
echo "== TSan build (threaded unit tests, pipeline runs)"
mkdir -p build-tsan
c++ -std=c++17 -O2 -g -fsanitize=thread -fPIC -c tests/support/tsan_pthreadpool.cc \
  -o build-tsan/tsan_pthreadpool.o
ar rcs build-tsan/libpthreadpool_tsan.a build-tsan/tsan_pthreadpool.o
tsan_flags=-fsanitize=thread
cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEDGE_WITH_XNNPACK=OFF \
  -DEDGE_BUILD_CONVERTER=OFF -DEDGE_BUILD_BENCH=OFF -DCMAKE_C_FLAGS=$tsan_flags \
  -DCMAKE_CXX_FLAGS=$tsan_flags -DCMAKE_EXE_LINKER_FLAGS=$tsan_flags \
  -DPTHREADPOOL_LIBRARY="$PWD/build-tsan/libpthreadpool_tsan.a"
cmake --build build-tsan -j"$JOBS" --target edge_unit_tests edge-run
export TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1"
# GCC 12's TSan cannot map its shadow with more than 28 bits of mmap ASLR
# (newer kernels' default) and can collide with random mappings below that:
# run without address randomization.
tsan_run=()
if command -v setarch >/dev/null; then tsan_run=(setarch "$(uname -m)" -R); fi
"${tsan_run[@]}" ctest --test-dir build-tsan --output-on-failure -j"$JOBS" -L unit -E \
  'Session.DitB2Arena|RealActivations.Int8AttentionWithinTarget|OpsUnary.AllVariants|TilesMatch(Reference|AnOracle)|SparsePlansMatchQuantizedReference|F32Attention.SelfAndCross|MutationsOfARichModel|ReferenceCloseToFp32OnAdversarial|CApiSettings.EachSetting'
build/tests/make_dit_fixture build-tsan/dit_fixture --depth 2 --hidden 64 --heads 2 --image 24 >/dev/null
for attn in "--attention-sparse clusters" \
            "--attention-density 0.34 --attention-precision int8 --precision int8"; do
  # shellcheck disable=SC2086
  "${tsan_run[@]}" build-tsan/runtime/edge-run build-tsan/dit_fixture/model.fb --threads 3 --steps 8 \
    --num-samples 2 --guidance 2 --seed 1 --cache tdc --cache-threshold 0.3 $attn \
    --out build-tsan/tsan_sample.npy --quiet
done
unset TSAN_OPTIONS
stage_results+=("passed: TSan threaded unit tests + pipeline runs")

# Hostile inputs (issue #14): each libFuzzer target briefly on its committed
# seed corpus, then the converter mutation test under ASan + UBSan (the ctest
# run above covers it in the release build, where a read past a vector may go
# unnoticed). Long runs: bash scripts/fuzz.sh (1M executions per target).
# EDGE_SKIP_FUZZ=1 skips the stage (it builds its own clang tree, build-fuzz/).
if [ "${EDGE_SKIP_FUZZ:-0}" != 1 ]; then
  echo "== fuzz smoke and converter mutations (clang, ASan + UBSan)"
  bash scripts/fuzz.sh 0 "${EDGE_FUZZ_SMOKE_S:-8}"
  cmake --build build-fuzz -j"$JOBS" --target convert_mutation_asan
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    build-fuzz/tests/fuzz/convert_mutation_asan --cases 5000 --seed 1 \
    tests/models/{single_block,stock_mha,text_block,video_block}/model.onnx
  stage_results+=("passed: fuzz smoke, converter mutations under ASan + UBSan")
else
  stage_results+=("skipped: fuzz smoke and ASan mutations (EDGE_SKIP_FUZZ=1)")
fi

if [ "${EDGE_SKIP_CROSS:-0}" != 1 ]; then
  budget=${EDGE_CROSS_BUDGET_S:-2700}
  export EDGE_CROSS_MODEL_TESTS=${EDGE_CROSS_MODEL_TESTS:-0}
  export EDGE_CROSS_EXCLUDE=${EDGE_CROSS_EXCLUDE:-"OpsUnary.AllVariantsMatchDoubleReference|Session.DitB2ArenaWithinBoundOfPeakLiveSet"}
  export EDGE_SIZES_OUT=${EDGE_SIZES_OUT:-build/sizes}
  # A stage that runs out of its budget did not pass: it is reported as
  # INCOMPLETE and fails the run (its unrun tests could hide a failure).
  cross_stage() {
    local name=$1; shift
    echo "== $name"
    local rc=0
    timeout "$budget" "$@" || rc=$?
    if [ $rc -eq 124 ]; then
      echo "INCOMPLETE: $name ran out of its ${budget}s budget"
      stage_results+=("incomplete: $name")
      cross_failed=1
    elif [ $rc -ne 0 ]; then
      echo "$name failed (exit $rc)"
      stage_results+=("failed: $name (exit $rc)")
      cross_failed=1
    else
      stage_results+=("passed: $name")
    fi
  }
  cross_stage "ARM cross builds, unit tests under qemu-user" bash scripts/cross-test.sh
  cross_stage "core binary sizes (x86-64, aarch64, armhf)" bash scripts/size-report.sh
  cross_stage "examples from the installed package (aarch64, qemu-user)" \
    bash scripts/examples-check.sh aarch64 build-aarch64
else
  stage_results+=("skipped: ARM cross stages (EDGE_SKIP_CROSS=1)")
fi
echo "== stages"
for r in "${stage_results[@]}"; do echo "$r"; done
if [ "$cross_failed" != 0 ]; then
  echo "test stages FAILED or INCOMPLETE"
  exit 1
fi
echo "all test stages passed"
