#!/usr/bin/env bash
# Installs everything edge needs to build, test, benchmark and embed (every
# command the README documents) on a fresh Debian (bookworm) machine. The ARM
# cross builds install their own (scripts/cross-deps.sh). Safe to run again.
# Uses sudo when not root.
set -euo pipefail
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
export DEBIAN_FRONTEND=noninteractive

# --runtime-only: just what building edge-run needs (the main job).
PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  # runtime dependencies
  libxnnpack-dev libcpuinfo-dev libpthreadpool-dev libflatbuffers-dev flatbuffers-compiler
)
if [ "${1:-}" != "--runtime-only" ]; then
  PACKAGES+=(
    # converter
    libonnx-dev libprotobuf-dev protobuf-compiler
    # edge-convert and edge-bench: command lines and JSON reports (header-only)
    libcli11-dev nlohmann-json3-dev
    # tests: GoogleTest, libpng (decodes what the PNG writer wrote), and the
    # PyTorch / NumPy oracle under pytest
    libgtest-dev libpng-dev python3 python3-numpy python3-torch python3-onnx python3-pytest
    # fuzzing: clang with libFuzzer and the sanitizer runtimes (scripts/fuzz.sh)
    clang libclang-rt-14-dev
    # bench/run_all.sh and tests/models/zoo/make_zoo.sh: the peers' virtual
    # environment (PyPI), the plots and pictures of bench/report/report.py and
    # bench/quality/, and the allocator the peers run with
    python3-venv python3-matplotlib python3-pil libtcmalloc-minimal4
  )
fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  # A foreign architecture added for cross builds (scripts/cross-deps.sh) adds
  # indexes that a mirror mid-sync may fail to serve: do not stop on those.
  $SUDO apt-get update -qq || echo "warning: apt-get update reported errors; going on" >&2
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
