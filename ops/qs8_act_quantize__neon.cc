// Per-token activation quantizer, NEON: the SIMD-layer one
// (ops/qs8_act_quantize_simd.h) on VecNeon. Same bytes as QuantizeRowsRef.
// AArch64 only: the quantized GEMMs have NEON variants there alone (32-bit
// ARM runs the scalar ones); the build compiles *__neon.cc for both.
#if defined(__aarch64__)
#include "ops/qs8_act_quantize_simd.h"
#include "ops/quant_gemm_internal.h"

namespace edge {

void QuantizeRowsNeon(const float* x, size_t ldx, size_t rows, size_t K, size_t k_pad,
                      QActFormat fmt, uint8_t* q, size_t ldq, float* scale, int32_t* corr,
                      size_t ldcorr) {
  QuantizeRowsSimd<VecNeon>(x, ldx, rows, K, k_pad, fmt, q, ldq, scale, corr, ldcorr);
}

}  // namespace edge

#endif  // defined(__aarch64__)
