// avx512 instantiation of the vector unary kernels, the GEMM family's
// activation pass and the vector-math arrays (ops/f32_activation_simd.h).
#include "ops/f32_activation_simd.h"

namespace edge {

void f32_vunary__avx512(F32Unary kind, size_t n, const float* x, float* y, pthreadpool_t pool) {
  simd::VUnary<VecAvx512>(kind, n, x, y, pool);
}

void f32_activation__avx512(size_t n, float* x, int act) { simd::ActivationPass<VecAvx512>(n, x, act); }

void f32_vmath__avx512(VecMathFn fn, size_t n, const float* x, float* y) {
  simd::VMath<VecAvx512>(fn, n, x, y);
}

}  // namespace edge
