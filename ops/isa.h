// The instruction-set levels that have their own F32 kernels (scalar / AVX2 /
// AVX-512), which one this CPU runs, and which builds have which variants.
// The kernel of each family is picked from these in ops/kernel_config.cc.
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

// Which instantiation the F32 elementwise / norm / softmax kernels of a
// KernelConfig (ops/kernel_config.h) are: fn_ref, fn__avx2, fn__avx512 or
// fn__neon. The numbering follows IsaLevel, then NEON (ARM has no IsaLevel
// tier for it).
enum class F32Variant : int { kRef = 0, kAvx2 = 1, kAvx512 = 2, kNeon = 3 };

}  // namespace edge
