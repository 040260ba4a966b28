# Shared part of the Debian cross toolchain files. The including file sets
# EDGE_CROSS_TRIPLE, EDGE_CROSS_DEBARCH, EDGE_QEMU and CMAKE_SYSTEM_PROCESSOR.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_C_COMPILER ${EDGE_CROSS_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${EDGE_CROSS_TRIPLE}-g++)
set(CMAKE_LIBRARY_ARCHITECTURE ${EDGE_CROSS_TRIPLE})

# Target libraries: the compiler's own sysroot plus the target's Debian -dev
# packages unpacked by scripts/cross-deps.sh (override with -DEDGE_CROSS_DEPS=DIR
# or the environment variable of the same name, e.g. for a board's sysroot).
if(NOT EDGE_CROSS_DEPS)
  if(DEFINED ENV{EDGE_CROSS_DEPS})
    set(EDGE_CROSS_DEPS $ENV{EDGE_CROSS_DEPS})
  else()
    get_filename_component(EDGE_CROSS_DEPS ${CMAKE_CURRENT_LIST_DIR}/../.cross-deps/${EDGE_CROSS_DEBARCH} ABSOLUTE)
  endif()
endif()
set(EDGE_CROSS_DEPS ${EDGE_CROSS_DEPS} CACHE PATH "Unpacked target -dev packages")
set(CMAKE_FIND_ROOT_PATH /usr/${EDGE_CROSS_TRIPLE} ${EDGE_CROSS_DEPS})
# Programs (flatc, pkg-config) come from the host; headers and libraries from the target.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# try_compile projects re-read this file: hand them the chosen directory.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES EDGE_CROSS_DEPS)

# Run target programs (gtest discovery, ctest) under qemu-user. -L makes the
# cross compiler's sysroot the guest's library root (dynamic loader, libc,
# libstdc++); the unpacked libraries are found through the build RPATH.
# LD_LIBRARY_PATH pins libc to that same sysroot: with a multiarch libc6:arm64
# installed, the guest loader would otherwise take /lib/<triple>/libc.so.6
# from the host's ld.so.cache, which need not match the sysroot's loader
# (the mismatch hangs or crashes the program).
set(EDGE_QEMU_CPU max CACHE STRING "CPU model qemu-user emulates for tests")
find_program(EDGE_QEMU_PATH ${EDGE_QEMU})
if(EDGE_QEMU_PATH)
  # The unpacked libraries come second: the RUNPATH only serves the program's
  # own dependencies, not theirs (libpng's libz).
  set(CMAKE_CROSSCOMPILING_EMULATOR ${EDGE_QEMU_PATH} -L /usr/${EDGE_CROSS_TRIPLE}
      -E LD_LIBRARY_PATH=/usr/${EDGE_CROSS_TRIPLE}/lib:${EDGE_CROSS_DEPS}/usr/lib/${EDGE_CROSS_TRIPLE}
      -cpu ${EDGE_QEMU_CPU})
endif()
