#!/usr/bin/env bash
# Installs what a cross build for ARCH (aarch64 | armhf) needs:
#   - Debian's cross compiler (g++-aarch64-linux-gnu / g++-arm-linux-gnueabihf),
#     whose sysroot /usr/<triple> also serves qemu-user as the guest's /;
#   - qemu-user, to run the target's tests on this machine;
#   - the target's -dev packages from Debian multiarch, unpacked into
#     .cross-deps/<debarch>/ (the toolchain files search there).
# Why unpacked and not `apt-get install libxnnpack-dev:arm64`: in bookworm
# libpthreadpool-dev and libxnnpack-dev (and their runtime libraries) are not
# Multi-Arch: same, and libcpuinfo-dev:arm64 clashes with libcpuinfo-dev:amd64 on
# a shared cmake file, so the target's packages cannot sit next to the host's.
# Unpacking them into a private prefix needs only `dpkg --add-architecture`.
# Safe to run again; does nothing when everything is present.
# Usage: bash scripts/cross-deps.sh aarch64|armhf
set -euo pipefail
cd "$(dirname "$0")/.."
ARCH=${1:?usage: cross-deps.sh aarch64|armhf}
case "$ARCH" in
  aarch64|arm64) DEBARCH=arm64; TRIPLE=aarch64-linux-gnu; QEMU=qemu-aarch64 ;;
  armhf|arm)     DEBARCH=armhf; TRIPLE=arm-linux-gnueabihf; QEMU=qemu-arm ;;
  *) echo "unknown arch $ARCH" >&2; exit 2 ;;
esac
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
export DEBIAN_FRONTEND=noninteractive

# Target libraries edge builds against. Missing ones are reported; without
# libxnnpack-dev the build falls back to EDGE_WITH_XNNPACK=OFF (the core build).
TARGET_PKGS=(libcpuinfo-dev libcpuinfo0 libpthreadpool-dev libpthreadpool0
             libxnnpack-dev libxnnpack0 libgtest-dev libflatbuffers-dev
             libpng-dev libpng16-16 zlib1g-dev zlib1g)
PREFIX=.cross-deps/$DEBARCH
# The stamp holds the package list it was made for (and the layout fix-up's
# version): a longer list unpacks again.
STAMP=$PREFIX/.complete
STAMP_ID="${TARGET_PKGS[*]} (lib merged into usr/lib)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" != "$STAMP_ID" ]; then rm -f "$STAMP"; fi

need_update=0
host_missing=()
for p in "g++-$TRIPLE" qemu-user; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || host_missing+=("$p")
done
if ! dpkg --print-foreign-architectures | grep -qx "$DEBARCH"; then
  $SUDO dpkg --add-architecture "$DEBARCH"
  need_update=1
fi
if [ ${#host_missing[@]} -gt 0 ] || [ ! -f "$STAMP" ]; then
  if [ $need_update = 1 ] || ! apt-cache show "libcpuinfo0:$DEBARCH" >/dev/null 2>&1; then
    need_update=1
  fi
fi
if [ $need_update = 1 ]; then
  # A mirror mid-sync can fail one index (often -security); the packages we
  # need come from the main suite, so do not stop on a partial update.
  $SUDO apt-get update -qq || echo "warning: apt-get update reported errors; going on" >&2
fi
if [ ${#host_missing[@]} -gt 0 ]; then
  echo "installing: ${host_missing[*]}"
  $SUDO apt-get install -y -qq --no-install-recommends "${host_missing[@]}"
fi

if [ ! -f "$STAMP" ]; then
  rm -rf "$PREFIX" && mkdir -p "$PREFIX/debs"
  got=()
  for p in "${TARGET_PKGS[@]}"; do
    if apt-cache show "$p:$DEBARCH" >/dev/null 2>&1; then got+=("$p:$DEBARCH");
    else echo "note: $p:$DEBARCH does not exist in this release; skipped" >&2; fi
  done
  # apt-get download writes into the current directory (as the _apt user
  # when it can; a root-owned directory only draws a warning).
  (cd "$PREFIX/debs" && apt-get download "${got[@]}" 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
  for d in "$PREFIX"/debs/*.deb; do dpkg-deb -x "$d" "$PREFIX"; done
  rm -rf "$PREFIX/debs"
  # Some packages (zlib1g) ship their library in lib/<triple> and the -dev
  # symlink in usr/lib/<triple> as an absolute path (/lib/<triple>/...), which
  # here would point at the host. Merge lib/ into usr/lib/ (as a merged-/usr
  # system has it) and make such links relative, so the linker finds libz
  # for libpng and the tests' RUNPATH finds it under qemu.
  if [ -d "$PREFIX/lib/$TRIPLE" ]; then
    for f in "$PREFIX/lib/$TRIPLE"/*; do
      [ -e "$PREFIX/usr/lib/$TRIPLE/$(basename "$f")" ] || cp -a "$f" "$PREFIX/usr/lib/$TRIPLE/"
    done
  fi
  for l in "$PREFIX/usr/lib/$TRIPLE"/*; do
    if [ -L "$l" ]; then
      t=$(readlink "$l")
      case "$t" in /*) ln -sf "$(basename "$t")" "$l" ;; esac
    fi
  done
  echo "$STAMP_ID" > "$STAMP"
fi
echo "cross deps for $DEBARCH: $(cd "$PREFIX" && ls usr/lib/$TRIPLE | tr '\n' ' ')"
