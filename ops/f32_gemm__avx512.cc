// AVX-512 F32 GEMM microkernel: 8 rows x 32 columns (16 zmm accumulators, two
// panel loads and eight folded broadcasts per k step), and the activation pass.
#include "ops/f32_gemm.h"
#include "ops/f32_gemm_ukernel.h"

namespace edge {

void f32_gemm_8x32__avx512(size_t mr, size_t nc, size_t k, const float* a, size_t a_stride,
                           const float* w, const float* bias, float* c, size_t c_stride,
                           int act) {
  gemm_ukernel<VecAvx512, 8, 2>(mr, nc, k, a, a_stride, w, bias, c, c_stride, act);
}

void f32_activation__avx512(size_t n, float* x, int act) {
  vactivate_inplace<VecAvx512>(n, x, act);
}

void f32_vexp__avx512(size_t n, const float* x, float* y) {
  size_t i = 0;
  for (; i + VecAvx512::kW <= n; i += VecAvx512::kW) VecAvx512::store(y + i, VecAvx512::exp(VecAvx512::load(x + i)));
  if (i < n) {
    const int r = static_cast<int>(n - i);
    VecAvx512::store_n(y + i, VecAvx512::exp(VecAvx512::load_n(x + i, r)), r);
  }
}

}  // namespace edge
