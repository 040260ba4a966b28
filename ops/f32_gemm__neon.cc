// AArch64 NEON F32 GEMM microkernel: 4 rows x 16 columns (16 q-register
// accumulators, four panel loads and four broadcasts per k step). Its panel
// is 16 wide, the stored layout PackedF32N16, which it reads in place.
// AArch32 keeps the portable kernel (VecNeon is AArch64's).
#if defined(__aarch64__)
#include "ops/f32_gemm.h"
#include "ops/f32_gemm_ukernel.h"

namespace edge {

void f32_gemm_4x16__neon(size_t mr, size_t nc, size_t k, const float* a, size_t a_stride,
                         const float* w, const float* bias, float* c, size_t c_stride, int act) {
  // Rolled activation epilogue: the fused GELU/SiLU is inlined once, not 16
  // times, which keeps the core edge-run within its AArch64 size budget.
  gemm_ukernel<VecNeon, 4, 4, 16, true>(mr, nc, k, a, a_stride, w, bias, c, c_stride, act);
}

}  // namespace edge
#endif
