#!/usr/bin/env bash
# Checks, under qemu-user, that kernel dispatch follows the emulated CPU:
#   1. DetectCpuFeatures() reports the expected tier on each emulated CPU
#      (gtest CpuFeatures.* with EDGE_EXPECT_ISA);
#   2. edge-run --verbose --json on a small DiT names the kernel of every op.
#      Where the tree has dotprod/i8mm kernels (ops/*__neondot.cc, *__i8mm.cc),
#      the model runs with --precision int8 and nvfp4 on each CPU: cortex-a53
#      must choose the NEON quantized kernels, cortex-a76 the dotprod ones,
#      max the i8mm ones, never a kernel the CPU lacks, and all must give the
#      same output bits (the quantized GEMM variants are bit-exact).
# Usage: bash scripts/cross-dispatch-check.sh aarch64|armhf BUILD_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
arch=${1:?arch}; dir=${2:?build dir}
case "$arch" in
  aarch64) triple=aarch64-linux-gnu; qemu=qemu-aarch64; debarch=arm64
           # emulated CPU -> expected tier
           cpus=("cortex-a53:neon" "cortex-a76:dotprod" "max:i8mm") ;;
  armhf)   triple=arm-linux-gnueabihf; qemu=qemu-arm; debarch=armhf
           # 32-bit builds use NEON kernels only (dotprod/i8mm are AArch64 here).
           # cortex-a9 has NEON without VFPv4: the F32 elementwise ops keep
           # their references there (ArmF32NeonSupported in ops/isa.h).
           cpus=("cortex-a9:neon" "cortex-a7:neon" "cortex-a15:neon" "max:neon") ;;
  *) echo "unknown arch $arch" >&2; exit 2 ;;
esac
# The unpacked target libraries (scripts/cross-deps.sh) come second: the
# tests' RUNPATH does not serve their libraries' own dependencies (libpng's libz).
deps=$(pwd)/.cross-deps/$debarch/usr/lib/$triple
emu() { local cpu=$1; shift; $qemu -L /usr/$triple -E LD_LIBRARY_PATH=/usr/$triple/lib:$deps -cpu "$cpu" "$@"; }

for entry in "${cpus[@]}"; do
  cpu=${entry%%:*}; tier=${entry#*:}
  out=$(EDGE_EXPECT_ISA=$tier emu "$cpu" "$dir/tests/edge_unit_tests" \
        --gtest_filter='CpuFeatures.*' 2>&1) || { echo "$out"; echo "FAIL: $cpu is not tier $tier"; exit 1; }
  echo "$cpu: $(echo "$out" | grep '^cpu features')"
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
emu max "$dir/tests/make_dit_fixture" "$tmp/fx" --depth 1 --hidden 32 --image 8 >/dev/null
# Quantized kernels with per-ISA ARM variants in this tree: run the F32
# fixture with its linear layers quantized at load (--precision).
precisions=(as-stored)
if [ "$arch" = aarch64 ] && ls ops/*__i8mm.cc ops/*__neondot.cc >/dev/null 2>&1; then
  precisions=(int8 nvfp4)
fi

kernels() {  # cpu precision -> one "type kernel" line per op
  local cpu=$1 prec=$2 tag=$1-$2
  emu "$cpu" "$dir/runtime/edge-run" "$tmp/fx/model.fb" --once --input x="$tmp/fx/x.npy" \
    --input t="$tmp/fx/t.npy" --input y="$tmp/fx/y.npy" --out-dir "$tmp/out-$tag" \
    --precision "$prec" --verbose --json --quiet 2>"$tmp/err-$tag" > "$tmp/json-$tag" \
    || { cat "$tmp/err-$tag"; echo "FAIL: edge-run --precision $prec under -cpu $cpu"; return 1; }
  /usr/bin/python3 -c 'import json,sys; [print(o["type"], o["kernel"]) for o in json.load(open(sys.argv[1]))["ops"]]' "$tmp/json-$tag"
}
# expect FILE PATTERN MESSAGE: some kernel matches; reject FILE PATTERN MESSAGE: none does.
fail=0
expect() { grep -qE "$2" "$1" || { echo "FAIL: $3"; fail=1; }; }
reject() { ! grep -qE "$2" "$1" || { echo "FAIL: $3"; fail=1; }; }
for prec in "${precisions[@]}"; do
  for entry in "${cpus[@]}"; do
    cpu=${entry%%:*}
    kernels "$cpu" "$prec" > "$tmp/k-$cpu-$prec" || exit 1
    n=$(wc -l < "$tmp/k-$cpu-$prec")
    [ "$n" -gt 0 ] || { echo "FAIL: no ops reported for -cpu $cpu"; fail=1; }
    echo "$cpu --precision $prec: $n ops; kernels: $(awk '{print $2}' "$tmp/k-$cpu-$prec" | sort | uniq -c | awk '{printf "%s x%s, ", $2, $1}')"
  done
  if [ "$arch" = aarch64 ]; then
    # Never a kernel the emulated CPU lacks (qemu would also raise SIGILL).
    reject "$tmp/k-cortex-a53-$prec" '__(neondot|i8mm)' "cortex-a53 (no dotprod/i8mm) chose a dotprod/i8mm kernel"
    reject "$tmp/k-cortex-a76-$prec" '__i8mm' "cortex-a76 (no i8mm) chose an i8mm kernel"
    if [ "$prec" != as-stored ]; then
      # The best variant each CPU has.
      expect "$tmp/k-cortex-a53-$prec" ' q[a-z0-9_]*__neon$' "cortex-a53 chose no NEON quantized kernel ($prec)"
      expect "$tmp/k-cortex-a76-$prec" ' q[a-z0-9_]*__neondot$' "cortex-a76 chose no dotprod quantized kernel ($prec)"
      expect "$tmp/k-max-$prec" ' q[a-z0-9_]*__i8mm$' "-cpu max chose no i8mm quantized kernel ($prec)"
      if cmp -s "$tmp/k-cortex-a53-$prec" "$tmp/k-max-$prec"; then
        echo "FAIL: cortex-a53 and max chose the same kernels ($prec)"; fail=1
      fi
      # Same bits whatever the variant (the quantized GEMM contract).
      for entry in "${cpus[@]}"; do
        cpu=${entry%%:*}
        for f in "$tmp/out-max-$prec"/*.npy; do
          cmp -s "$f" "$tmp/out-$cpu-$prec/$(basename "$f")" \
            || { echo "FAIL: $cpu output differs from max ($prec, $(basename "$f"))"; fail=1; }
        done
      done
    fi
  fi
done
if [ "$arch" = armhf ]; then
  # The F32 elementwise / norm ops: NEON kernels with VFPv4, references without.
  expect "$tmp/k-cortex-a7-as-stored" ' f32_[a-z_]*__neon$' "cortex-a7 chose no F32 NEON kernel"
  expect "$tmp/k-max-as-stored" ' f32_[a-z_]*__neon$' "-cpu max chose no F32 NEON kernel"
  reject "$tmp/k-cortex-a9-as-stored" ' f32_[a-z_]*__neon$' "cortex-a9 (no VFPv4) chose an F32 NEON kernel"
  expect "$tmp/k-cortex-a9-as-stored" ' f32_layernorm_ref$' "cortex-a9 chose no F32 reference kernel"
fi
if [ "${precisions[0]}" = as-stored ] && [ "$arch" = aarch64 ]; then
  echo "note: no dotprod/i8mm kernels in this tree: checked feature detection and that dispatch runs"
fi
[ $fail = 0 ] && echo "dispatch check passed ($arch)"
exit $fail
