// avx2 instantiation of LayerNorm / RMSNorm (ops/f32_norm_simd.h).
#include "ops/vec_math_avx2.h"
#include "ops/f32_norm_simd.h"

namespace edge {

void f32_layernorm__avx2(size_t rows, size_t cols, const float* x, const float* gamma,
                         const float* beta, float eps, float* y, pthreadpool_t pool) {
  simd::LayerNorm<avx2::V>(rows, cols, x, gamma, beta, eps, y, pool);
}

void f32_rmsnorm__avx2(size_t rows, size_t cols, const float* x, const float* gamma, float eps,
                       float* y, pthreadpool_t pool) {
  simd::RMSNorm<avx2::V>(rows, cols, x, gamma, eps, y, pool);
}

}  // namespace edge
