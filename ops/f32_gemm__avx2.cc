// AVX2+FMA F32 GEMM microkernel: 6 rows x 16 columns (12 ymm accumulators out
// of 16 registers).
#include "ops/f32_gemm.h"
#include "ops/f32_gemm_ukernel.h"

namespace edge {

void f32_gemm_6x16__avx2(size_t mr, size_t nc, size_t k, const float* a, size_t a_stride,
                         const float* w, const float* bias, float* c, size_t c_stride, int act) {
  gemm_ukernel<VecAvx2, 6, 2>(mr, nc, k, a, a_stride, w, bias, c, c_stride, act);
}

}  // namespace edge
