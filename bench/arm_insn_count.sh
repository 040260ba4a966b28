#!/usr/bin/env bash
# Instructions per element of each F32 elementwise / norm / softmax kernel,
# scalar reference against NEON, on aarch64 and armhf, counted under
# qemu-user. Emulation says nothing about time, but it runs each instruction
# exactly once: with -singlestep every translation block is one guest
# instruction, and -d nochain,exec logs one "Trace" line per block executed,
# so the lines count executed instructions (this qemu has no plugins). A
# driver (bench/arm/insn_count_driver.cc) calls one kernel on N elements; a run that
# does everything but the call is subtracted, leaving the kernel's own count
# (per-call overhead included, amortized over N).
# Needs the cross builds' ops library (scripts/cross-test.sh makes it, or
# cmake --build build-ARCH --target edge_ops).
# Usage: bash bench/arm_insn_count.sh [N]   (default N=4096; prints Markdown)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-4096}
OPS=(gelu gelu_tanh silu sigmoid tanh exp erf neg abs sqrt rsqrt reciprocal
     add sub mul div modulate gated_residual layernorm rmsnorm softmax groupnorm groupnorm_silu)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

declare -A per_elem
for arch in aarch64 armhf; do
  case "$arch" in
    aarch64) triple=aarch64-linux-gnu; qemu=qemu-aarch64; debarch=arm64 ;;
    armhf)   triple=arm-linux-gnueabihf; qemu=qemu-arm; debarch=armhf ;;
  esac
  lib=build-$arch/ops/libedge_ops.a
  [ -f "$lib" ] || { echo "missing $lib: build the cross tree first (scripts/cross-test.sh $arch)" >&2; exit 1; }
  deps=$(pwd)/.cross-deps/$debarch/usr
  "$triple-g++" -std=c++17 -O2 -I. -I"$deps/include" bench/arm/insn_count_driver.cc "$lib" \
    -L"$deps/lib/$triple" -lcpuinfo -lpthreadpool -lpthread -lm -o "$tmp/drv-$arch"
  count() {  # op variant -> instructions executed by the whole run
    $qemu -L /usr/$triple -E LD_LIBRARY_PATH=/usr/$triple/lib:$deps/lib/$triple -cpu max \
      -singlestep -d nochain,exec -D "$tmp/log" "$tmp/drv-$arch" "$1" "$2" "$N" || true
    grep -c '^Trace' "$tmp/log"
    rm -f "$tmp/log"
  }
  for op in "${OPS[@]}"; do
    base=$(count "$op" none)
    for v in ref neon; do
      total=$(count "$op" "$v")
      per_elem[$arch,$op,$v]=$(awk -v t="$total" -v b="$base" -v n="$N" 'BEGIN { printf "%.1f", (t - b) / n }')
    done
  done
done

echo "Instructions per element (N=$N; qemu-user -cpu max; scalar reference vs NEON)."
echo
echo "| op | aarch64 ref | aarch64 NEON | aarch64 ratio | armhf ref | armhf NEON | armhf ratio |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for op in "${OPS[@]}"; do
  row="| $op"
  for arch in aarch64 armhf; do
    r=${per_elem[$arch,$op,ref]}; s=${per_elem[$arch,$op,neon]}
    row+=" | $r | $s | $(awk -v r="$r" -v s="$s" 'BEGIN { printf "%.1fx", r / s }')"
  done
  echo "$row |"
done
