// avx2 instantiation of the vector unary kernels, the GEMM family's
// activation pass and the vector-math arrays (ops/f32_activation_simd.h).
#include "ops/f32_activation_simd.h"

namespace edge {

void f32_vunary__avx2(F32Unary kind, size_t n, const float* x, float* y, pthreadpool_t pool) {
  simd::VUnary<VecAvx2>(kind, n, x, y, pool);
}

void f32_activation__avx2(size_t n, float* x, int act) { simd::ActivationPass<VecAvx2>(n, x, act); }

void f32_vmath__avx2(VecMathFn fn, size_t n, const float* x, float* y) {
  simd::VMath<VecAvx2>(fn, n, x, y);
}

}  // namespace edge
