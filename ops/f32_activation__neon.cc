// AArch64 NEON instantiation of the vector unary kernels, the GEMM family's
// activation pass and the vector-math arrays (ops/f32_activation_simd.h).
// AArch32 keeps the reference and the portable pass (VecNeon is AArch64's).
#if defined(__aarch64__)
#include "ops/f32_activation_simd.h"

namespace edge {

void f32_vunary__neon(F32Unary kind, size_t n, const float* x, float* y, pthreadpool_t pool) {
  simd::VUnary<VecNeon>(kind, n, x, y, pool);
}

void f32_activation__neon(size_t n, float* x, int act) { simd::ActivationPass<VecNeon>(n, x, act); }

void f32_vmath__neon(VecMathFn fn, size_t n, const float* x, float* y) {
  simd::VMath<VecNeon>(fn, n, x, y);
}

}  // namespace edge
#endif
