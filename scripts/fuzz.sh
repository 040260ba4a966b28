#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/fuzz_*.cc) with clang, ASan and
# UBSan in build-fuzz/, and runs each on its seed corpus (tests/fuzz/corpus/),
# at the lowest CPU priority.
#
#   bash scripts/fuzz.sh [RUNS] [SECONDS] [TARGET ...]
#
# RUNS: executions per target (default 1000000; 0 = no limit); SECONDS: time
# cap per target (default 0 = none). Targets: model npy onnx (default all).
# New inputs go to build-fuzz/corpus/<target>/ (the committed seeds are only
# read), crashes to build-fuzz/crashes/<target>/. One summary line per target:
# executions, coverage (libFuzzer's cov/ft counters), and the outcome.
# CI (scripts/test.sh) runs a short smoke: bash scripts/fuzz.sh 0 8.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-1000000}
[ "$RUNS" = 0 ] && RUNS=-1  # libFuzzer: -1 = no limit
SECS=${2:-0}
shift $(( $# > 2 ? 2 : $# )) || true
TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=(model npy onnx)
JOBS=${JOBS:-2}

mkdir -p build-fuzz
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEDGE_FUZZ=ON \
  -DEDGE_BUILD_TESTS=OFF -DEDGE_BUILD_BENCH=OFF > build-fuzz/configure.log
nice -n 5 cmake --build build-fuzz -j"$JOBS" --target $(printf 'fuzz_%s ' "${TARGETS[@]}")

# A model refused for its arena size is the cap working; larger mallocs are bugs.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=0
summary=()
for t in "${TARGETS[@]}"; do
  work=build-fuzz/corpus/$t crashes=build-fuzz/crashes/$t
  mkdir -p "$work" "$crashes"
  log=build-fuzz/fuzz_$t.log
  rc=0
  nice -n 19 build-fuzz/tests/fuzz/fuzz_"$t" -runs="$RUNS" -max_total_time="$SECS" -timeout=25 -rss_limit_mb=2048 \
    -max_len=131072 -print_final_stats=1 -artifact_prefix="$crashes/" "$work" "tests/fuzz/corpus/$t" > "$log" 2>&1 || rc=$?
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -1 || echo "cov: ?")
  if [ $rc -ne 0 ]; then
    failed=1
    summary+=("fuzz_$t: FAILED (exit $rc) after $execs executions, $cov; see $log and $crashes/")
    tail -40 "$log"
  else
    summary+=("fuzz_$t: $execs executions, $cov, no crash")
  fi
done
for s in "${summary[@]}"; do echo "$s"; done
exit $failed
