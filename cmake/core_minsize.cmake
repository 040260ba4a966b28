# Size-optimized core build (EDGE_CORE_MINSIZE=ON) for small ARM boards:
# -Os, one section per function/object so the linker can drop what nothing
# calls (--gc-sections), link-time optimization, stripped binaries. Meant for
# the core (runtime + ops + edge-run) without XNNPACK, converter, bench, tests:
#   cmake -S . -B build-core -G Ninja -DCMAKE_BUILD_TYPE=MinSizeRel -DEDGE_CORE_MINSIZE=ON \
#     -DEDGE_WITH_XNNPACK=OFF -DEDGE_BUILD_CONVERTER=OFF -DEDGE_BUILD_BENCH=OFF -DEDGE_BUILD_TESTS=OFF
# scripts/size-report.sh builds it for x86-64, aarch64 and armhf and reports
# the stripped sizes. Each part can be turned off on its own.
option(EDGE_CORE_MINSIZE "Size-optimized build: -Os, section GC, LTO, strip" OFF)
include(CMakeDependentOption)
cmake_dependent_option(EDGE_MINSIZE_LTO "With EDGE_CORE_MINSIZE: link-time optimization" ON "EDGE_CORE_MINSIZE" OFF)
cmake_dependent_option(EDGE_MINSIZE_GC_SECTIONS "With EDGE_CORE_MINSIZE: -ffunction-sections -fdata-sections -Wl,--gc-sections" ON "EDGE_CORE_MINSIZE" OFF)
cmake_dependent_option(EDGE_MINSIZE_STRIP "With EDGE_CORE_MINSIZE: strip binaries at link time (-s)" ON "EDGE_CORE_MINSIZE" OFF)
cmake_dependent_option(EDGE_MINSIZE_NORELRO "With EDGE_CORE_MINSIZE: link with -z norelro" ON "EDGE_CORE_MINSIZE" OFF)

if(EDGE_CORE_MINSIZE)
  if(EDGE_WITH_XNNPACK)
    message(WARNING "EDGE_CORE_MINSIZE with EDGE_WITH_XNNPACK=ON: the binary needs libXNNPACK.so as well")
  endif()
  # Later -O flags win: -Os overrides the build type's -O2/-O3.
  add_compile_options(-Os)
  # The core has no exceptions, so tables for unwinding through any
  # instruction are dead weight; code built with exceptions still gets the
  # tables its exception handling needs.
  add_compile_options($<$<COMPILE_LANGUAGE:CXX>:-fno-asynchronous-unwind-tables>)
  # Nothing in the core throws or catches (edge-run and the file helpers
  # included), so no target needs exception or unwind tables either: about
  # 28 KiB on aarch64 (.eh_frame, .gcc_except_table, landing pads), which
  # also decides whether the RW segment fits below a 64 KiB boundary or is
  # padded to the next one (scripts/size-report.sh's padding column).
  add_compile_options($<$<COMPILE_LANGUAGE:CXX>:-fno-exceptions> $<$<COMPILE_LANGUAGE:CXX>:-fno-unwind-tables>)
  if(EDGE_MINSIZE_GC_SECTIONS)
    add_compile_options(-ffunction-sections -fdata-sections)
    add_link_options(-Wl,--gc-sections)
  endif()
  if(EDGE_MINSIZE_STRIP)
    add_link_options(-s)
  endif()
  # RELRO makes the loader remap the GOT read-only after relocation, and for
  # that the linker ends the RELRO part of the RW segment on a max-page-size
  # boundary: 64 KiB on AArch64, so up to 64 KiB of zeros in the file
  # whenever the code grows past a boundary (the aarch64 core went from 258
  # to 322 KiB for a few KiB of code). Without it the RW segment follows the
  # code directly and the binary still loads on 4, 16 and 64 KiB page
  # kernels, at the price of that hardening; EDGE_MINSIZE_NORELRO=OFF keeps it.
  if(EDGE_MINSIZE_NORELRO)
    add_link_options(-Wl,-z,norelro)
  endif()
  if(EDGE_MINSIZE_LTO)
    include(CheckIPOSupported)
    check_ipo_supported(RESULT edge_ipo_ok OUTPUT edge_ipo_msg LANGUAGES C CXX)
    if(edge_ipo_ok)
      set(CMAKE_INTERPROCEDURAL_OPTIMIZATION ON)
    else()
      message(WARNING "LTO not supported by this toolchain: ${edge_ipo_msg}")
    endif()
  endif()
endif()
