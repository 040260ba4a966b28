// W8A8 GEMM tile, AVX2 + FMA. Same scheme as the AVX-512BW file: int16
// widening and vpmaddwd (exact; vpmaddubsw would saturate), per-column pair
// halves added at the end with vphaddd. Register tile 4 rows x 16 columns.
#include <immintrin.h>

#include <cstring>

#include "ops/quant_gemm_internal.h"

namespace edge {
namespace {

constexpr int kMR = 4;

inline int32_t Load4(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

template <int MR>
void Micro(const QGemmArgs& a, size_t m, size_t n, size_t ncols) {
  const size_t Kp = RoundUp(a.K, 4);
  const uint8_t* w = a.w + (n / 16) * 16 * Kp;
  const uint8_t* x = a.a + m * a.lda;
  __m256i acc[MR][4];  // columns 0-3, 4-7, 8-11, 12-15 (two lanes per column)
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
    for (int j = 0; j < 4; ++j) acc[r][j] = _mm256_setzero_si256();
  for (size_t k = 0; k < Kp; k += 4) {
    __m256i wv[4];
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j)
      wv[j] = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + k * 16 + 16 * j)));
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      const __m128i a8 = _mm_cvtsi32_si128(Load4(x + r * a.lda + k));
      const __m256i av = _mm256_broadcastq_epi64(_mm_cvtepi8_epi16(a8));
#pragma GCC unroll 4
      for (int j = 0; j < 4; ++j) acc[r][j] = _mm256_add_epi32(acc[r][j], _mm256_madd_epi16(wv[j], av));
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) {
    const __m256 sa = _mm256_set1_ps(a.a_scale[m + r]);
    alignas(32) float out[16];
    for (int h = 0; h < 2; ++h) {
      // hadd per 128-bit lane gives columns (0,1,4,5 | 2,3,6,7): reorder.
      const __m256i s = _mm256_permute4x64_epi64(_mm256_hadd_epi32(acc[r][2 * h], acc[r][2 * h + 1]), 0xD8);
      const __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(s), sa);
      _mm256_store_ps(out + 8 * h, _mm256_fmadd_ps(v, _mm256_loadu_ps(a.w_scale + n + 8 * h),
                                                    _mm256_loadu_ps(a.bias + n + 8 * h)));
    }
    std::memcpy(a.y + (m + r) * a.ldy + n, out, (ncols < 16 ? ncols : 16) * sizeof(float));
  }
}

void Tile(const QGemmArgs& a, size_t m0, size_t mc, size_t n0, size_t nc) {
  for (size_t n = n0; n < n0 + nc; n += 16) {
    const size_t ncols = n0 + nc - n < 16 ? n0 + nc - n : 16;
    size_t m = m0;
    for (; m + kMR <= m0 + mc; m += kMR) Micro<kMR>(a, m, n, ncols);
    switch (m0 + mc - m) {
      case 3: Micro<3>(a, m, n, ncols); break;
      case 2: Micro<2>(a, m, n, ncols); break;
      case 1: Micro<1>(a, m, n, ncols); break;
      default: break;
    }
  }
}

bool Supported(const CpuFeatures& f) { return f.avx2 && f.fma; }

}  // namespace

const QGemmKernel kQs8GemmAvx2 = {"qs8_gemm_4x16c4__avx2", Supported, {0, 0}, 4, QuantizeRowsAvx2,
                                  Tile, kMR, 16, false};

}  // namespace edge
