// AVX2+FMA F32 GEMM microkernel: 6 rows x 16 columns (12 ymm accumulators out
// of 16 registers), and the activation pass.
#include "ops/f32_gemm.h"
#include "ops/f32_gemm_ukernel.h"

namespace edge {

void f32_gemm_6x16__avx2(size_t mr, size_t nc, size_t k, const float* a, size_t a_stride,
                         const float* w, const float* bias, float* c, size_t c_stride, int act) {
  gemm_ukernel<VecAvx2, 6, 2>(mr, nc, k, a, a_stride, w, bias, c, c_stride, act);
}

void f32_activation__avx2(size_t n, float* x, int act) { vactivate_inplace<VecAvx2>(n, x, act); }

void f32_vexp__avx2(size_t n, const float* x, float* y) {
  size_t i = 0;
  for (; i + VecAvx2::kW <= n; i += VecAvx2::kW) VecAvx2::store(y + i, VecAvx2::exp(VecAvx2::load(x + i)));
  if (i < n) {
    const int r = static_cast<int>(n - i);
    VecAvx2::store_n(y + i, VecAvx2::exp(VecAvx2::load_n(x + i, r)), r);
  }
}

}  // namespace edge
