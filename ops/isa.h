// The instruction-set levels that have their own F32 kernels (scalar / AVX2 /
// AVX-512), which one this CPU runs, and a macro that names the x86 variants
// only where they are built.
#pragma once

#include "ops/cpu_features.h"

#if defined(__x86_64__) || defined(_M_X64)
#define EDGE_ARCH_X86_64 1
#else
#define EDGE_ARCH_X86_64 0
#endif
#if defined(__aarch64__)
#define EDGE_ARCH_AARCH64 1  // NEON is baseline: the F32 ops have __neon kernels
#else
#define EDGE_ARCH_AARCH64 0
#endif

namespace edge {

enum class IsaLevel : int { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };

// Best level the CPU supports (honours EDGE_ISA_CAP through DetectCpuFeatures).
// AVX-512 kernels are built with F/BW/VL/DQ; every CPU with BW and VL has DQ.
inline IsaLevel BestIsaLevel(const CpuFeatures& cpu) {
#if EDGE_ARCH_X86_64
  if (cpu.avx512f && cpu.avx512bw && cpu.avx512vl && cpu.avx2 && cpu.fma) return IsaLevel::kAvx512;
  if (cpu.avx2 && cpu.fma) return IsaLevel::kAvx2;
#endif
  return IsaLevel::kScalar;
}

// Whether this build and this CPU can run `level`.
inline bool IsaLevelSupported(IsaLevel level, const CpuFeatures& cpu) {
  return static_cast<int>(level) <= static_cast<int>(BestIsaLevel(cpu));
}

// Picks fn_ref / fn__avx2 / fn__avx512 and the matching name for `isa`
// (fn__neon on AArch64, fn_ref elsewhere).
// Usage: EDGE_PICK_F32(isa, f32_layernorm, &fn, &name);
#if EDGE_ARCH_X86_64
#define EDGE_PICK_F32(isa, base, fn_out, name_out)                            \
  do {                                                                        \
    switch (isa) {                                                            \
      case ::edge::IsaLevel::kAvx512:                                           \
        *(fn_out) = base##__avx512; *(name_out) = #base "__avx512"; break;    \
      case ::edge::IsaLevel::kAvx2:                                             \
        *(fn_out) = base##__avx2; *(name_out) = #base "__avx2"; break;        \
      default:                                                                \
        *(fn_out) = base##_ref; *(name_out) = #base "_ref"; break;            \
    }                                                                         \
  } while (0)
#elif EDGE_ARCH_AARCH64
#define EDGE_PICK_F32(isa, base, fn_out, name_out)        \
  do {                                                    \
    (void)(isa);                                          \
    *(fn_out) = base##__neon; *(name_out) = #base "__neon"; \
  } while (0)
#else
#define EDGE_PICK_F32(isa, base, fn_out, name_out) \
  do {                                             \
    (void)(isa);                                   \
    *(fn_out) = base##_ref; *(name_out) = #base "_ref"; \
  } while (0)
#endif

}  // namespace edge
