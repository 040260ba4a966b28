// avx512 instantiation of GroupNorm (ops/f32_groupnorm_simd.h).
#include "ops/f32_vec.h"
#include "ops/f32_groupnorm_simd.h"

namespace edge {

void f32_groupnorm__avx512(const F32GroupNormParams& p, const float* x, const float* gamma,
                         const float* beta, float* y, pthreadpool_t pool) {
  simd::GroupNorm<VecAvx512>(p, x, gamma, beta, y, pool);
}

}  // namespace edge
