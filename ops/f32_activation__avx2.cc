// avx2 instantiation of the vector unary kernels (ops/f32_activation_simd.h).
#include "ops/vec_math_avx2.h"
#include "ops/f32_activation_simd.h"

namespace edge {

void f32_vunary__avx2(F32Unary kind, size_t n, const float* x, float* y, pthreadpool_t pool) {
  simd::VUnary<avx2::V>(kind, n, x, y, pool);
}

}  // namespace edge
