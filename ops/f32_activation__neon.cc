// NEON instantiation of the vector unary kernels, the vector-math arrays and
// (AArch64 only) the GEMM family's activation pass (ops/f32_activation_simd.h).
// Built for AArch64 and for AArch32 with -mfpu=neon-vfpv4 (ops/CMakeLists.txt);
// AArch32's GEMM keeps the portable pass, as it keeps the scalar GEMM.
#include "ops/f32_activation_simd.h"

namespace edge {

void f32_vunary__neon(F32Unary kind, size_t n, const float* x, float* y, pthreadpool_t pool) {
  simd::VUnary<VecNeon>(kind, n, x, y, pool);
}

#if defined(__aarch64__)
void f32_activation__neon(size_t n, float* x, int act) { simd::ActivationPass<VecNeon>(n, x, act); }
#endif

void f32_vmath__neon(VecMathFn fn, size_t n, const float* x, float* y) {
  simd::VMath<VecNeon>(fn, n, x, y);
}

}  // namespace edge
