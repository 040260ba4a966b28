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
  const __m512i xor_v = _mm512_set1_epi8(static_cast<char>(fmt.xor_mask));
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
    // 64 elements (four 16-blocks) per step: one byte store, and the block
    // sums for the NVFP4 correction from one vpsadbw on q + 128.
    for (k = 0; k < k_pad; k += 64) {
      __m128i part[4];
      for (int i = 0; i < 4; ++i) {
        const size_t kk = k + 16 * i;
        const size_t left = K > kk ? K - kk : 0;
        const __mmask16 mk = left >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << left) - 1);
        part[i] = _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(mk, row + kk), inv)));
      }
      __m512i z = _mm512_castsi128_si512(part[0]);
      z = _mm512_inserti32x4(z, part[1], 1);
      z = _mm512_inserti32x4(z, part[2], 2);
      z = _mm512_inserti32x4(z, part[3], 3);
      const size_t n = k_pad - k >= 64 ? 64 : k_pad - k;
      const __mmask64 ms = n == 64 ? ~__mmask64(0) : (__mmask64(1) << n) - 1;
      _mm512_mask_storeu_epi8(qr + k, ms, _mm512_xor_si512(z, xor_v));
      if (fmt.corr_mul != 0) {
        // Per 8 bytes: sum(q + 128) = sum(q) + 1024.
        const __m512i sad = _mm512_sad_epu8(_mm512_xor_si512(z, _mm512_set1_epi8(static_cast<char>(0x80))),
                                            _mm512_setzero_si512());
        const __m256i s8 = _mm512_cvtepi64_epi32(sad);  // 8 sums of 8 bytes
        const __m256i pairs = _mm256_hadd_epi32(s8, s8);  // lanes 0,1,4,5: blocks 0..3
        alignas(32) int32_t v[8];
        _mm256_store_si256(reinterpret_cast<__m256i*>(v), pairs);
        const int32_t sums[4] = {v[0], v[1], v[4], v[5]};
        for (int i = 0; i < 4 && k + 16 * i < k_pad; ++i) {
          corr[m * ldcorr + k / 16 + i] = fmt.corr_mul * (sums[i] - 2048);
        }
      }
    }
  }
}

}  // namespace edge
