// avx512 instantiation of GroupNorm (ops/f32_groupnorm_simd.h).
#include "ops/vec_math_avx512.h"
#include "ops/f32_groupnorm_simd.h"

namespace edge {

void f32_groupnorm__avx512(const F32GroupNormParams& p, const float* x, const float* gamma,
                         const float* beta, float* y, pthreadpool_t pool) {
  simd::GroupNorm<avx512::V>(p, x, gamma, beta, y, pool);
}

}  // namespace edge
