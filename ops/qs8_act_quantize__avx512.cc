// Per-token activation quantizer, AVX-512 (same bytes as QuantizeRowsRef:
// x * (127 / amax) rounded by vcvtps2dq in the default RNE mode).
#include <immintrin.h>

#include <cstring>

#include "ops/quant_gemm_internal.h"

namespace edge {

void QuantizeRowsAvx512(const float* x, size_t ldx, size_t rows, size_t K, size_t k_pad,
                        QActFormat fmt, uint8_t* q, size_t ldq, float* scale, int32_t* corr,
                        size_t ldcorr) {
  const __m512 abs_mask = _mm512_castsi512_ps(_mm512_set1_epi32(0x7FFFFFFF));
  const __m128i xor_v = _mm_set1_epi8(static_cast<char>(fmt.xor_mask));
  for (size_t m = 0; m < rows; ++m) {
    const float* row = x + m * ldx;
    __m512 vmax = _mm512_setzero_ps();
    size_t k = 0;
    for (; k + 16 <= K; k += 16) vmax = _mm512_max_ps(vmax, _mm512_and_ps(_mm512_loadu_ps(row + k), abs_mask));
    if (k < K) {
      const __mmask16 mk = static_cast<__mmask16>((1u << (K - k)) - 1);
      vmax = _mm512_max_ps(vmax, _mm512_and_ps(_mm512_maskz_loadu_ps(mk, row + k), abs_mask));
    }
    const float amax = _mm512_reduce_max_ps(vmax);
    const float inv_s = amax > 0.0f ? 127.0f / amax : 0.0f;
    scale[m] = amax / 127.0f;
    const __m512 inv = _mm512_set1_ps(inv_s);
    uint8_t* qr = q + m * ldq;
    for (k = 0; k < k_pad; k += 16) {
      const size_t left = K > k ? K - k : 0;
      const __mmask16 mk = left >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << left) - 1);
      const __m512i qi = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(mk, row + k), inv));
      const __m128i qb = _mm_xor_si128(_mm512_cvtsepi32_epi8(qi), xor_v);
      const size_t n = k_pad - k >= 16 ? 16 : k_pad - k;
      _mm_mask_storeu_epi8(qr + k, static_cast<__mmask16>((1u << n) - 1), qb);
      if (fmt.corr_mul != 0) corr[m * ldcorr + k / 16] = fmt.corr_mul * _mm512_reduce_add_epi32(qi);
    }
  }
}

}  // namespace edge
