// Per-token activation quantizer, AVX2: the SIMD-layer one
// (ops/qs8_act_quantize_simd.h) on VecAvx2. Same bytes as QuantizeRowsRef.
#include "ops/qs8_act_quantize_simd.h"
#include "ops/quant_gemm_internal.h"

namespace edge {

void QuantizeRowsAvx2(const float* x, size_t ldx, size_t rows, size_t K, size_t k_pad,
                      QActFormat fmt, uint8_t* q, size_t ldq, float* scale, int32_t* corr,
                      size_t ldcorr) {
  QuantizeRowsSimd<VecAvx2>(x, ldx, rows, K, k_pad, fmt, q, ldq, scale, corr, ldcorr);
}

}  // namespace edge
