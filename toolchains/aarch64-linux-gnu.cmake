# Cross build for 64-bit ARM Linux with Debian's cross compiler.
#   bash scripts/cross-deps.sh aarch64          # compiler, qemu-user, target libraries
#   cmake -S . -B build-aarch64 -G Ninja -DCMAKE_TOOLCHAIN_FILE=toolchains/aarch64-linux-gnu.cmake \
#         -DEDGE_BUILD_CONVERTER=OFF -DEDGE_BUILD_BENCH=OFF
# Tests run under qemu-user through CMAKE_CROSSCOMPILING_EMULATOR; the emulated
# CPU is EDGE_QEMU_CPU (default "max": NEON + dotprod + i8mm, so every kernel
# variant executes; "cortex-a53" has NEON only, "cortex-a76" adds dotprod).
set(EDGE_CROSS_TRIPLE aarch64-linux-gnu)
set(EDGE_CROSS_DEBARCH arm64)
set(EDGE_QEMU qemu-aarch64)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
include(${CMAKE_CURRENT_LIST_DIR}/linux-cross-common.cmake)
