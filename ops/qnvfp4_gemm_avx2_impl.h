// W4A8 NVFP4 GEMM tile for 256-bit AVX2-class ISAs, shared by the AVX2 and
// AVX-VNNI files (Dot: vpmaddubsw + vpmaddwd, or VEX vpdpbusd; both exact).
// Same scheme as the AVX-512 tile (ops/qnvfp4_gemm_avx512_impl.h): vpshufb
// decodes nibbles to 2*e2m1 + 12 (u8), accumulators start at -12 * block sum
// of x, one FMA per 16-k block applies the E4M3 scale. Register tile 4 rows x
// 8 columns (half a 16-column panel) to fit 16 ymm registers.
// Included only by *__avx2.cc / *__avxvnni.cc files (their ISA flags).
#pragma once

#include <immintrin.h>

#include <cstring>

#include "ops/quant_gemm_internal.h"

namespace edge {
namespace {
namespace qnvfp4_avx2 {

constexpr int kMR = 4;

inline int32_t Load4(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// 8 E4M3 bytes (0x00..0x7E) to FP32, exact and safe under denormals-are-zero.
inline __m256 DecodeE4M3x8(const uint8_t* p) {
  const __m256i v = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
  const __m256i bits = _mm256_add_epi32(_mm256_slli_epi32(v, 20), _mm256_set1_epi32(120 << 23));
  const __m256 sub = _mm256_mul_ps(_mm256_cvtepi32_ps(v), _mm256_set1_ps(1.0f / 512.0f));
  const __m256i is_sub = _mm256_cmpgt_epi32(_mm256_set1_epi32(8), v);
  return _mm256_blendv_ps(_mm256_castsi256_ps(bits), sub, _mm256_castsi256_ps(is_sub));
}

// Rows [m, m+MR) x 8 columns starting at n (n % 8 == 0).
template <class Dot, int MR>
void Micro(const QGemmArgs& a, size_t m, size_t n, size_t ncols) {
  const size_t nbp = RoundUp(a.K, 16) / 16;
  const size_t nb = (a.K + 15) / 16;
  const size_t half = (n % 16) / 8;
  const uint8_t* w = a.w + (n / 16) * nbp * 128 + half * 32;
  const uint8_t* sc = a.w_scales + (n / 16) * nbp * 16 + half * 8;
  const uint8_t* x = a.a + m * a.lda;
  const int32_t* corr = a.a_corr + m * a.ldcorr;
  const __m256i lut = _mm256_setr_epi8(12, 13, 14, 15, 16, 18, 20, 24, 12, 11, 10, 9, 8, 6, 4, 0,
                                       12, 13, 14, 15, 16, 18, 20, 24, 12, 11, 10, 9, 8, 6, 4, 0);
  const __m256i lo4 = _mm256_set1_epi8(0x0F);
  __m256 facc[MR];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) facc[r] = _mm256_setzero_ps();
  for (size_t b = 0; b < nb; ++b) {
    __m256i acc[MR];
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) acc[r] = _mm256_set1_epi32(corr[r * a.ldcorr + b]);
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) {
      const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + b * 128 + h * 64));
      const __m256i wl = _mm256_shuffle_epi8(lut, _mm256_and_si256(raw, lo4));
      const __m256i wh = _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(raw, 4), lo4));
      const size_t k = b * 16 + h * 8;
#pragma GCC unroll 8
      for (int r = 0; r < MR; ++r) {
        acc[r] = Dot::Apply(acc[r], wl, _mm256_set1_epi32(Load4(x + r * a.lda + k)));
        acc[r] = Dot::Apply(acc[r], wh, _mm256_set1_epi32(Load4(x + r * a.lda + k + 4)));
      }
    }
    const __m256 s = DecodeE4M3x8(sc + b * 16);
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) facc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[r]), s, facc[r]);
  }
  const __m256 bias = _mm256_loadu_ps(a.bias + n);
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) {
    const __m256 rs = _mm256_set1_ps(a.a_scale[m + r] * a.tensor_half);
    const __m256 o = _mm256_fmadd_ps(facc[r], rs, bias);
    float* y = a.y + (m + r) * a.ldy + n;
    if (ncols >= 8) {
      _mm256_storeu_ps(y, o);
    } else {
      alignas(32) float out[8];
      _mm256_store_ps(out, o);
      std::memcpy(y, out, ncols * sizeof(float));
    }
  }
}

template <class Dot>
void Tile(const QGemmArgs& a, size_t m0, size_t mc, size_t n0, size_t nc) {
  for (size_t n = n0; n < n0 + nc; n += 8) {
    const size_t ncols = n0 + nc - n < 8 ? n0 + nc - n : 8;
    size_t m = m0;
    for (; m + kMR <= m0 + mc; m += kMR) Micro<Dot, kMR>(a, m, n, ncols);
    switch (m0 + mc - m) {
      case 3: Micro<Dot, 3>(a, m, n, ncols); break;
      case 2: Micro<Dot, 2>(a, m, n, ncols); break;
      case 1: Micro<Dot, 1>(a, m, n, ncols); break;
      default: break;
    }
  }
}

}  // namespace qnvfp4_avx2
}  // namespace
}  // namespace edge
