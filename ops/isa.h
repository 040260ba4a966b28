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
#if defined(__arm__)
#define EDGE_ARCH_ARM32 1  // __neon kernels built for NEON + VFPv4, picked at run time
#else
#define EDGE_ARCH_ARM32 0
#endif
// Whether the F32 elementwise / norm / softmax ops have __neon kernels.
#define EDGE_ARCH_ARM (EDGE_ARCH_AARCH64 || EDGE_ARCH_ARM32)

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

// Whether the CPU runs the F32 __neon kernels of an AArch32 build: NEON with
// VFPv4's fused multiply-add (Cortex-A5/A7/A15 and later; not A8/A9).
inline bool ArmF32NeonSupported(const CpuFeatures& cpu) { return cpu.neon && cpu.neon_fma; }

// Picks fn_ref / fn__avx2 / fn__avx512 and the matching name for `isa`
// (fn__neon on AArch64; on AArch32 fn__neon where the CPU can run it, else
// fn_ref; fn_ref elsewhere).
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
#elif EDGE_ARCH_ARM32
// IsaLevel has no NEON tier (the GEMM and conv paths key on kScalar and keep
// their portable kernels on AArch32), so this asks the CPU features, which
// honour EDGE_ISA_CAP=scalar.
#define EDGE_PICK_F32(isa, base, fn_out, name_out)                             \
  do {                                                                         \
    (void)(isa);                                                               \
    if (::edge::ArmF32NeonSupported(::edge::DetectCpuFeatures())) {            \
      *(fn_out) = base##__neon; *(name_out) = #base "__neon";                  \
    } else {                                                                   \
      *(fn_out) = base##_ref; *(name_out) = #base "_ref";                      \
    }                                                                          \
  } while (0)
#else
#define EDGE_PICK_F32(isa, base, fn_out, name_out) \
  do {                                             \
    (void)(isa);                                   \
    *(fn_out) = base##_ref; *(name_out) = #base "_ref"; \
  } while (0)
#endif

}  // namespace edge
