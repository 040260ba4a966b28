// NEON instantiation of LayerNorm / RMSNorm (ops/f32_norm_simd.h).
// Built for AArch64 and for AArch32 with -mfpu=neon-vfpv4 (ops/CMakeLists.txt).
#include "ops/f32_vec.h"
#include "ops/f32_norm_simd.h"

namespace edge {

void f32_layernorm__neon(size_t rows, size_t cols, const float* x, const float* gamma,
                         const float* beta, float eps, float* y, pthreadpool_t pool) {
  simd::LayerNorm<VecNeon>(rows, cols, x, gamma, beta, eps, y, pool);
}

void f32_rmsnorm__neon(size_t rows, size_t cols, const float* x, const float* gamma, float eps,
                       float* y, pthreadpool_t pool) {
  simd::RMSNorm<VecNeon>(rows, cols, x, gamma, eps, y, pool);
}

}  // namespace edge
