// avx2 instantiation of LayerNorm / RMSNorm (ops/f32_norm_simd.h).
#include "ops/f32_vec.h"
#include "ops/f32_norm_simd.h"

namespace edge {

void f32_layernorm__avx2(size_t rows, size_t cols, const float* x, const float* gamma,
                         const float* beta, float eps, float* y, pthreadpool_t pool) {
  simd::LayerNorm<VecAvx2>(rows, cols, x, gamma, beta, eps, y, pool);
}

void f32_rmsnorm__avx2(size_t rows, size_t cols, const float* x, const float* gamma, float eps,
                       float* y, pthreadpool_t pool) {
  simd::RMSNorm<VecAvx2>(rows, cols, x, gamma, eps, y, pool);
}

}  // namespace edge
