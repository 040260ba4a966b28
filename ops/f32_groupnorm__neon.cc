// AArch64 NEON instantiation of GroupNorm (ops/f32_groupnorm_simd.h).
// (AArch32 keeps the reference: VecNeon is AArch64's.)
#if defined(__aarch64__)
#include "ops/f32_vec.h"
#include "ops/f32_groupnorm_simd.h"

namespace edge {

void f32_groupnorm__neon(const F32GroupNormParams& p, const float* x, const float* gamma,
                         const float* beta, float* y, pthreadpool_t pool) {
  simd::GroupNorm<VecNeon>(p, x, gamma, beta, y, pool);
}

}  // namespace edge
#endif
