// AVX-512 F32 GEMM microkernel: 8 rows x 32 columns (16 zmm accumulators, two
// panel loads and eight folded broadcasts per k step).
#include "ops/f32_gemm.h"
#include "ops/f32_gemm_ukernel.h"

namespace edge {

void f32_gemm_8x32__avx512(size_t mr, size_t nc, size_t k, const float* a, size_t a_stride,
                           const float* w, const float* bias, float* c, size_t c_stride,
                           int act) {
  gemm_ukernel<VecAvx512, 8, 2>(mr, nc, k, a, a_stride, w, bias, c, c_stride, act);
}

// The same block over two 16-wide panels of PackedF32N16 (one load stream each).
void f32_gemm_8x32p16__avx512(size_t mr, size_t nc, size_t k, const float* a, size_t a_stride,
                              const float* w, const float* bias, float* c, size_t c_stride,
                              int act) {
  gemm_ukernel<VecAvx512, 8, 2, 16>(mr, nc, k, a, a_stride, w, bias, c, c_stride, act);
}

}  // namespace edge
