# Cross build for 32-bit ARM Linux (ARMv7-A, hard float) with Debian's cross
# compiler. Generic code targets Debian's armhf baseline (VFPv3-D16, no NEON);
# ops/*__neon.cc files get -mfpu=neon and are chosen at run time when the CPU
# has NEON.
#   bash scripts/cross-deps.sh armhf
#   cmake -S . -B build-armhf -G Ninja -DCMAKE_TOOLCHAIN_FILE=toolchains/arm-linux-gnueabihf.cmake \
#         -DEDGE_BUILD_CONVERTER=OFF -DEDGE_BUILD_BENCH=OFF
set(EDGE_CROSS_TRIPLE arm-linux-gnueabihf)
set(EDGE_CROSS_DEBARCH armhf)
set(EDGE_QEMU qemu-arm)
set(CMAKE_SYSTEM_PROCESSOR armv7l)
include(${CMAKE_CURRENT_LIST_DIR}/linux-cross-common.cmake)
# GCC notes that std::initializer_list<int64_t> is passed differently than
# before GCC 7.1 (-Wpsabi) on every call: an ABI remark, not a problem here.
set(CMAKE_CXX_FLAGS_INIT "-Wno-psabi")
