// W8A8 GEMM tile, AVX-512BW without VNNI. vpmaddubsw would saturate on
// u8 x s8 pairs, so both operands are widened to int16 and multiplied with
// vpmaddwd (exact). Each int32 lane then holds the partial sum of k pairs
// (k0+k1 or k2+k3) of one column; the two halves are added at the end.
// Register tile 8 rows x 16 columns (16 accumulators of 8 columns x 2 halves).
#include <immintrin.h>

#include <cstring>

#include "ops/quant_gemm_internal.h"

namespace edge {
namespace {

constexpr int kMR = 8;

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
  __m512i acc[MR][2];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_si512();
  for (size_t k = 0; k < Kp; k += 4) {
    const __m512i w0 = _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + k * 16)));
    const __m512i w1 = _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + k * 16 + 32)));
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      // 4 activations widened to int16, repeated in every 64-bit lane.
      const __m128i a8 = _mm_cvtsi32_si128(Load4(x + r * a.lda + k));
      const __m512i av = _mm512_broadcastq_epi64(_mm_cvtepi8_epi16(a8));
      acc[r][0] = _mm512_add_epi32(acc[r][0], _mm512_madd_epi16(w0, av));
      acc[r][1] = _mm512_add_epi32(acc[r][1], _mm512_madd_epi16(w1, av));
    }
  }
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  const __m512 sw = _mm512_loadu_ps(a.w_scale + n);
  const __m512 bias = _mm512_loadu_ps(a.bias + n);
  const __mmask16 mask = ncols >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << ncols) - 1);
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) {
    const __m512i s = _mm512_add_epi32(_mm512_permutex2var_epi32(acc[r][0], even, acc[r][1]),
                                       _mm512_permutex2var_epi32(acc[r][0], odd, acc[r][1]));
    const __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(s), _mm512_set1_ps(a.a_scale[m + r]));
    _mm512_mask_storeu_ps(a.y + (m + r) * a.ldy + n, mask, _mm512_fmadd_ps(v, sw, bias));
  }
}

void Tile(const QGemmArgs& a, size_t m0, size_t mc, size_t n0, size_t nc) {
  for (size_t n = n0; n < n0 + nc; n += 16) {
    const size_t ncols = n0 + nc - n < 16 ? n0 + nc - n : 16;
    size_t m = m0;
    for (; m + kMR <= m0 + mc; m += kMR) Micro<kMR>(a, m, n, ncols);
    switch (m0 + mc - m) {
      case 7: Micro<7>(a, m, n, ncols); break;
      case 6: Micro<6>(a, m, n, ncols); break;
      case 5: Micro<5>(a, m, n, ncols); break;
      case 4: Micro<4>(a, m, n, ncols); break;
      case 3: Micro<3>(a, m, n, ncols); break;
      case 2: Micro<2>(a, m, n, ncols); break;
      case 1: Micro<1>(a, m, n, ncols); break;
      default: break;
    }
  }
}

bool Supported(const CpuFeatures& f) { return f.avx512f && f.avx512bw && f.avx512vl; }

}  // namespace

const QGemmKernel kQs8GemmAvx512 = {"qs8_gemm_8x16c4__avx512bw", Supported, {0, 0}, 4,
                                    QuantizeRowsAvx512, Tile, kMR, 16, false};

}  // namespace edge
