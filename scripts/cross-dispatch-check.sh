#!/usr/bin/env bash
# Checks, under qemu-user, that kernel dispatch follows the emulated CPU:
#   1. DetectCpuFeatures() reports the expected tier on each emulated CPU
#      (gtest CpuFeatures.* with EDGE_EXPECT_ISA);
#   2. edge-run --verbose --json on a small DiT names the kernel of every op;
#      on a CPU without dotprod/i8mm (cortex-a53) no dotprod/i8mm kernel may be
#      chosen, and where the tree has such kernels (ops/*__neondot.cc,
#      ops/*__i8mm.cc) the model is run with --precision int8 and the CPUs that
#      have the feature must choose them.
# Usage: bash scripts/cross-dispatch-check.sh aarch64|armhf BUILD_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
arch=${1:?arch}; dir=${2:?build dir}
case "$arch" in
  aarch64) triple=aarch64-linux-gnu; qemu=qemu-aarch64
           # emulated CPU -> expected tier
           cpus=("cortex-a53:neon" "cortex-a76:dotprod" "max:i8mm") ;;
  armhf)   triple=arm-linux-gnueabihf; qemu=qemu-arm
           # 32-bit builds use NEON kernels only (dotprod/i8mm are AArch64 here).
           cpus=("cortex-a7:neon" "cortex-a15:neon" "max:neon") ;;
  *) echo "unknown arch $arch" >&2; exit 2 ;;
esac
emu() { local cpu=$1; shift; $qemu -L /usr/$triple -E LD_LIBRARY_PATH=/usr/$triple/lib -cpu "$cpu" "$@"; }

for entry in "${cpus[@]}"; do
  cpu=${entry%%:*}; tier=${entry#*:}
  out=$(EDGE_EXPECT_ISA=$tier emu "$cpu" "$dir/tests/edge_unit_tests" \
        --gtest_filter='CpuFeatures.*' 2>&1) || { echo "$out"; echo "FAIL: $cpu is not tier $tier"; exit 1; }
  echo "$cpu: $(echo "$out" | grep '^cpu features')"
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
emu max "$dir/tests/make_dit_fixture" "$tmp/fx" --depth 1 --hidden 32 --image 8 >/dev/null
precision=()
want_dot=0; want_i8mm=0
if [ "$arch" = aarch64 ]; then
  ls ops/*__neondot.cc >/dev/null 2>&1 && want_dot=1
  ls ops/*__i8mm.cc >/dev/null 2>&1 && want_i8mm=1
fi
if [ $want_dot = 1 ] || [ $want_i8mm = 1 ]; then precision=(--precision int8); fi

kernels() {  # cpu -> one "type kernel" line per op
  emu "$1" "$dir/runtime/edge-run" "$tmp/fx/model.fb" --once --input x="$tmp/fx/x.npy" \
    --input t="$tmp/fx/t.npy" --input y="$tmp/fx/y.npy" --out-dir "$tmp/out-$1" \
    "${precision[@]}" --verbose --json --quiet 2>"$tmp/err-$1" > "$tmp/json-$1" \
    || { cat "$tmp/err-$1"; echo "FAIL: edge-run under -cpu $1"; exit 1; }
  /usr/bin/python3 -c 'import json,sys; [print(o["type"], o["kernel"]) for o in json.load(open(sys.argv[1]))["ops"]]' "$tmp/json-$1"
}
fail=0
for entry in "${cpus[@]}"; do
  cpu=${entry%%:*}
  kernels "$cpu" > "$tmp/k-$cpu"
  n=$(wc -l < "$tmp/k-$cpu")
  [ "$n" -gt 0 ] || { echo "FAIL: no ops reported for -cpu $cpu"; fail=1; }
  echo "$cpu: $n ops; kernels: $(awk '{print $2}' "$tmp/k-$cpu" | sort | uniq -c | awk '{printf "%s x%s, ", $2, $1}')"
done
if [ "$arch" = aarch64 ]; then
  if grep -qiE 'neondot|dotprod|i8mm' "$tmp/k-cortex-a53"; then
    echo "FAIL: cortex-a53 (no dotprod/i8mm) chose a dotprod/i8mm kernel"; fail=1
  fi
  if grep -qi 'i8mm' "$tmp/k-cortex-a76"; then
    echo "FAIL: cortex-a76 (no i8mm) chose an i8mm kernel"; fail=1
  fi
  if [ $want_dot = 1 ] && ! grep -qiE 'neondot|dotprod' "$tmp/k-cortex-a76"; then
    echo "FAIL: dotprod kernels exist but cortex-a76 chose none"; fail=1
  fi
  if [ $want_i8mm = 1 ] && ! grep -qi 'i8mm' "$tmp/k-max"; then
    echo "FAIL: i8mm kernels exist but -cpu max chose none"; fail=1
  fi
  if [ $want_dot = 0 ] && [ $want_i8mm = 0 ]; then
    echo "note: no dotprod/i8mm kernels in this tree yet: checked feature detection and that dispatch runs"
  elif cmp -s "$tmp/k-cortex-a53" "$tmp/k-max"; then
    echo "FAIL: cortex-a53 and max chose the same kernels"; fail=1
  fi
fi
[ $fail = 0 ] && echo "dispatch check passed ($arch)"
exit $fail
