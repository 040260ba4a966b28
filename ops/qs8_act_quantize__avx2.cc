// Per-token activation quantizer, AVX2 (same bytes as QuantizeRowsRef).
#include <immintrin.h>

#include <cstring>

#include "ops/quant_gemm_internal.h"

namespace edge {

namespace {
inline __m256 LoadPartial(const float* p, size_t n) {  // n < 8 elements, rest 0
  alignas(32) float buf[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  std::memcpy(buf, p, n * sizeof(float));
  return _mm256_load_ps(buf);
}
}  // namespace

void QuantizeRowsAvx2(const float* x, size_t ldx, size_t rows, size_t K, size_t k_pad,
                      QActFormat fmt, uint8_t* q, size_t ldq, float* scale, int32_t* corr,
                      size_t ldcorr) {
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
  for (size_t m = 0; m < rows; ++m) {
    const float* row = x + m * ldx;
    __m256 vmax = _mm256_setzero_ps();
    size_t k = 0;
    for (; k + 8 <= K; k += 8) vmax = _mm256_max_ps(vmax, _mm256_and_ps(_mm256_loadu_ps(row + k), abs_mask));
    if (k < K) vmax = _mm256_max_ps(vmax, _mm256_and_ps(LoadPartial(row + k, K - k), abs_mask));
    __m128 v4 = _mm_max_ps(_mm256_castps256_ps128(vmax), _mm256_extractf128_ps(vmax, 1));
    v4 = _mm_max_ps(v4, _mm_movehl_ps(v4, v4));
    v4 = _mm_max_ss(v4, _mm_shuffle_ps(v4, v4, 1));
    const float amax = _mm_cvtss_f32(v4);
    const float inv_s = amax > 0.0f ? 127.0f / amax : 0.0f;
    scale[m] = amax / 127.0f;
    const __m256 inv = _mm256_set1_ps(inv_s);
    uint8_t* qr = q + m * ldq;
    for (k = 0; k < k_pad; k += 16) {
      const size_t left = K > k ? K - k : 0;
      const __m256 x0 = left >= 8 ? _mm256_loadu_ps(row + k) : LoadPartial(row + k, left);
      const __m256 x1 = left >= 16 ? _mm256_loadu_ps(row + k + 8)
                                   : LoadPartial(row + k + 8, left > 8 ? left - 8 : 0);
      const __m256i q0 = _mm256_cvtps_epi32(_mm256_mul_ps(x0, inv));
      const __m256i q1 = _mm256_cvtps_epi32(_mm256_mul_ps(x1, inv));
      // packs work per 128-bit lane: reorder to k order afterwards.
      const __m256i w16 = _mm256_permute4x64_epi64(_mm256_packs_epi32(q0, q1), 0xD8);
      if (fmt.int16_even_odd) {
        // Every 4 int16 as q0, q2, q1, q3 (the bytes 0-1, 4-5, 2-3, 6-7).
        const __m256i order = _mm256_setr_epi8(0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15,
                                               0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15);
        alignas(32) uint8_t tmp[32];
        _mm256_store_si256(reinterpret_cast<__m256i*>(tmp), _mm256_shuffle_epi8(w16, order));
        std::memcpy(qr + 2 * k, tmp, 2 * (k_pad - k >= 16 ? 16 : k_pad - k));
        continue;
      }
      __m128i b = _mm_packs_epi16(_mm256_castsi256_si128(w16), _mm256_extracti128_si256(w16, 1));
      b = _mm_xor_si128(b, _mm_set1_epi8(static_cast<char>(fmt.xor_mask)));
      alignas(16) uint8_t tmp[16];
      _mm_store_si128(reinterpret_cast<__m128i*>(tmp), b);
      const size_t n = k_pad - k >= 16 ? 16 : k_pad - k;
      std::memcpy(qr + k, tmp, n);
      if (fmt.corr_mul != 0) {
        __m256i s = _mm256_add_epi32(q0, q1);
        __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4E));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xB1));
        corr[m * ldcorr + k / 16] = fmt.corr_mul * _mm_cvtsi128_si32(s4);
      }
    }
  }
}

}  // namespace edge
