// NEON instantiation of GroupNorm (ops/f32_groupnorm_simd.h).
// Built for AArch64 and for AArch32 with -mfpu=neon-vfpv4 (ops/CMakeLists.txt).
#include "ops/f32_vec.h"
#include "ops/f32_groupnorm_simd.h"

namespace edge {

void f32_groupnorm__neon(const F32GroupNormParams& p, const float* x, const float* gamma,
                         const float* beta, float* y, pthreadpool_t pool) {
  simd::GroupNorm<VecNeon>(p, x, gamma, beta, y, pool);
}

}  // namespace edge
