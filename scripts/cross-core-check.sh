#!/usr/bin/env bash
# The size-optimized core (build-core-ARCH from scripts/size-report.sh: -Os,
# LTO, section GC, no XNNPACK) must still find every kernel and compute what
# the full cross build (build-ARCH from scripts/cross-test.sh) computes: both
# edge-run binaries run a small DiT under qemu-user at F32, int8 and nvfp4.
# Does nothing (exit 0) unless both builds exist; either script calls it.
# Usage: bash scripts/cross-core-check.sh aarch64|armhf
set -euo pipefail
cd "$(dirname "$0")/.."
arch=${1:?arch}
case "$arch" in
  aarch64) triple=aarch64-linux-gnu; qemu=qemu-aarch64; debarch=arm64 ;;
  armhf)   triple=arm-linux-gnueabihf; qemu=qemu-arm; debarch=armhf ;;
  *) echo "unknown arch $arch" >&2; exit 2 ;;
esac
dir=build-$arch
core=build-core-$arch/runtime/edge-run
if [ ! -x "$core" ] || [ ! -x "$dir/runtime/edge-run" ] || [ ! -x "$dir/tests/make_dit_fixture" ]; then
  exit 0
fi
echo "== size-optimized core edge-run vs full build under $qemu ($arch)"
# The unpacked target libraries (scripts/cross-deps.sh: cpuinfo, pthreadpool)
# come second: make_dit_fixture links the runtime through the writer's op table.
deps=$(pwd)/.cross-deps/$debarch/usr/lib/$triple
emu_run() { $qemu -L /usr/$triple -E LD_LIBRARY_PATH=/usr/$triple/lib:$deps -cpu max "$@"; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
emu_run "$dir/tests/make_dit_fixture" "$tmp/fx" --depth 2 --hidden 64 --image 8 >/dev/null
for prec in as-stored int8 nvfp4; do
  for b in full:"$dir/runtime/edge-run" core:"$core"; do
    emu_run "${b#*:}" "$tmp/fx/model.fb" --once --input x="$tmp/fx/x.npy" --input t="$tmp/fx/t.npy" \
      --input y="$tmp/fx/y.npy" --precision $prec --out-dir "$tmp/${b%%:*}-$prec" --quiet
  done
done
/usr/bin/python3 - "$tmp" <<'PY'
import glob, os, sys
import numpy as np
d = sys.argv[1]
for prec in ("as-stored", "int8", "nvfp4"):
    names = sorted(os.path.basename(f) for f in glob.glob(os.path.join(d, "full-" + prec, "*.npy")))
    assert names, "no outputs"
    for n in names:
        a, b = np.load(os.path.join(d, "full-" + prec, n)), np.load(os.path.join(d, "core-" + prec, n))
        err = float(np.abs(a - b).max() / max(np.abs(a).max(), 1e-30))
        print(f"core vs full build, --precision {prec}, {n}: max rel err {err:.2e} (limit 1e-4)")
        assert a.shape == b.shape and err < 1e-4, n
PY
