#!/usr/bin/env bash
# Embedding check: installs a build into a temporary prefix (cmake --install)
# and builds examples/ against that package, not the build tree: with
# find_package(edge) and, on the host, with pkg-config (examples/Makefile).
# Then runs the examples and checks their samples against the installed
# edge-run's: the .npy of generate_c bit for bit, the picture of generate_cpp
# pixel for pixel. x86-64: on the demo model. aarch64: built through the
# toolchain file and run under qemu-user, on a small one-channel DiT made by
# the host build's make_dit_fixture (EDGE_HOST_BUILD_DIR, default build/):
# the demo model takes minutes per sample under emulation.
# Usage: bash scripts/examples-check.sh x86_64|aarch64 BUILD_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
arch=${1:?usage: examples-check.sh x86_64|aarch64 BUILD_DIR}
dir=${2:?usage: examples-check.sh x86_64|aarch64 BUILD_DIR}
JOBS=${JOBS:-$(nproc)}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
case "$arch" in
  x86_64)  tc=(); run=(); model=$PWD/models/demo/glyph_dit.fb ;;
  aarch64) tc=(-DCMAKE_TOOLCHAIN_FILE="$PWD/toolchains/aarch64-linux-gnu.cmake")
           # Installed programs carry no build RPATH: the target's libraries as a
           # board would have them installed (scripts/cross-deps.sh unpacked them).
           libs=/usr/aarch64-linux-gnu/lib:$PWD/.cross-deps/arm64/usr/lib/aarch64-linux-gnu
           run=(qemu-aarch64 -L /usr/aarch64-linux-gnu -E LD_LIBRARY_PATH="$libs" -cpu max)
           "${EDGE_HOST_BUILD_DIR:-build}/tests/make_dit_fixture" "$tmp/fx" --channels 1 --image 16 \
             --depth 2 --hidden 32 --heads 2 >/dev/null
           model=$tmp/fx/model.fb ;;
  *) echo "unknown arch $arch" >&2; exit 2 ;;
esac
steps=6 samples=2
prefix=$tmp/prefix

# Everything the install rules copy (edge-convert too where it is configured).
targets=(edge edge-run)
if cmake --build "$dir" --target help | grep -q '^edge-convert:'; then targets+=(edge-convert); fi
cmake --build "$dir" -j"$JOBS" --target "${targets[@]}"
cmake --install "$dir" --prefix "$prefix" >/dev/null
echo "installed: $(cd "$prefix" && find . -type f -o -type l | sort | tr '\n' ' ')"
# The package's only header is the C API; nothing private leaks.
headers=$(cd "$prefix/include" && find . -type f)
[ "$headers" = ./edge/edge.h ] || { echo "FAIL: installed headers: $headers"; exit 1; }

# CMake: find_package(edge) from the prefix. A cross toolchain searches its
# sysroots only, so the package directory is named there.
cmake -S examples -B "$tmp/build" -G Ninja -DCMAKE_BUILD_TYPE=Release "${tc[@]}" \
  -DCMAKE_PREFIX_PATH="$prefix" -Dedge_DIR="$(dirname "$(find "$prefix" -name edgeConfig.cmake)")" >/dev/null
cmake --build "$tmp/build" -j"$JOBS"

"${run[@]}" "$tmp/build/generate_c" "$model" "$tmp/c.npy" $steps $samples
"${run[@]}" "$tmp/build/generate_cpp" "$model" "$tmp/cpp.pgm" $steps $samples
"${run[@]}" "$prefix/bin/edge-run" "$model" --steps $steps --num-samples $samples --seed 0 \
  --out "$tmp/edge_run.npy" --quiet
if [ "$arch" = x86_64 ]; then
  # pkg-config (static: its Libs carry the dependencies; shared: found at run time).
  PKG_CONFIG_PATH=$(dirname "$(find "$prefix" -name edge.pc)") make -s -C examples BUILD="$tmp"
  LD_LIBRARY_PATH=$(dirname "$(find "$prefix" -name 'libedge.*' | head -1)") \
    "$tmp/generate_c_pc" "$model" "$tmp/c_pc.npy" $steps $samples
  cmp "$tmp/c.npy" "$tmp/c_pc.npy" || { echo "FAIL: the pkg-config build differs"; exit 1; }
fi
/usr/bin/python3 - "$tmp" <<'PY'
import sys
import numpy as np
d = sys.argv[1]
ref = np.load(d + "/edge_run.npy")
c = np.load(d + "/c.npy")
assert c.shape == ref.shape and c.dtype == np.float32, (c.shape, ref.shape, c.dtype)
assert np.array_equal(c, ref), "generate_c differs from edge-run"
# generate_cpp: one row of samples, [-1, 1] -> [0, 255] rounded half away from zero.
raw = open(d + "/cpp.pgm", "rb").read()
magic, size, maxval, pixels = raw.split(b"\n", 3)  # P5 / W H / 255 / bytes
n, ch, hh, ww = ref.shape
assert (magic, size, maxval) == (b"P5", b"%d %d" % (n * ww, hh), b"255"), (magic, size, maxval)
u = np.clip((ref[:, 0].astype(np.float32) + np.float32(1)) * np.float32(127.5), 0, 255)
expect = np.floor(u.astype(np.float64) + 0.5).astype(np.uint8).transpose(1, 0, 2).reshape(hh, n * ww)
got = np.frombuffer(pixels, np.uint8).reshape(hh, n * ww)
assert np.array_equal(got, expect), "generate_cpp's picture differs from edge-run's samples"
print(f"examples match edge-run: {n} samples {ch}x{hh}x{ww}, range [{ref.min():.2f}, {ref.max():.2f}]")
PY
echo "examples check passed ($arch, $(basename "$(find "$prefix" -name 'libedge.*' | head -1)"))"
