// W8A8 GEMM tile, AVX2 + FMA: exact int16 products with vpmaddwd
// (vpmaddubsw would saturate). Register tile 3 rows x 16 columns.
//
// The packed weights hold, per 4 k and column, 4 consecutive bytes (N16K4,
// the layout the VNNI tiles read), so a 32-byte load is 8 columns x 4 k. As
// 16-bit lanes that is (k0 | k1 << 8), (k2 | k3 << 8) per column: shifting
// each lane left then arithmetic right by 8 sign-extends the even k (k0, k2),
// an arithmetic right shift alone the odd k (k1, k3). vpmaddwd of the even
// lanes with (a0, a2) plus the odd ones with (a1, a3) is the column's dot
// product over those 4 k, in the 32-bit lane of that column: no horizontal
// adds, and 3 shifts widen 32 weights (vpmovsxbw, a lane-crossing shuffle,
// widens 16). The activations arrive as int16 in the matching order
// (a0, a2, a1, a3: QActFormat::int16_even_odd), so each pair is one broadcast
// load. 6 accumulators, 4 widened weight vectors, 2 activation vectors and
// 2 products fit the 16 ymm registers (4 rows spill accumulators to the
// stack).
#include <immintrin.h>

#include <cstring>

#include "ops/quant_gemm_internal.h"

namespace edge {
namespace {

constexpr int kMR = 3;

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
  __m256i acc0[MR], acc1[MR];  // columns 0-7 and 8-15, one per 32-bit lane
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) acc0[r] = acc1[r] = _mm256_setzero_si256();
  for (size_t k = 0; k < Kp; k += 4) {
    const __m256i w0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + k * 16));
    const __m256i w1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + k * 16 + 32));
    const __m256i we0 = _mm256_srai_epi16(_mm256_slli_epi16(w0, 8), 8), wo0 = _mm256_srai_epi16(w0, 8);
    const __m256i we1 = _mm256_srai_epi16(_mm256_slli_epi16(w1, 8), 8), wo1 = _mm256_srai_epi16(w1, 8);
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      const uint8_t* xr = x + r * a.lda + 2 * k;  // int16: a0, a2, a1, a3
      const __m256i ae = _mm256_set1_epi32(Load4(xr));
      const __m256i ao = _mm256_set1_epi32(Load4(xr + 4));
      acc0[r] = _mm256_add_epi32(acc0[r], _mm256_add_epi32(_mm256_madd_epi16(we0, ae), _mm256_madd_epi16(wo0, ao)));
      acc1[r] = _mm256_add_epi32(acc1[r], _mm256_add_epi32(_mm256_madd_epi16(we1, ae), _mm256_madd_epi16(wo1, ao)));
    }
  }
  const __m256 ws0 = _mm256_loadu_ps(a.w_scale + n), ws1 = _mm256_loadu_ps(a.w_scale + n + 8);
  const __m256 b0 = _mm256_loadu_ps(a.bias + n), b1 = _mm256_loadu_ps(a.bias + n + 8);
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) {
    const __m256 sa = _mm256_set1_ps(a.a_scale[m + r]);
    const __m256 y0 = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(acc0[r]), sa), ws0, b0);
    const __m256 y1 = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(acc1[r]), sa), ws1, b1);
    float* yr = a.y + (m + r) * a.ldy + n;
    if (ncols == 16) {
      _mm256_storeu_ps(yr, y0);
      _mm256_storeu_ps(yr + 8, y1);
    } else {
      alignas(32) float out[16];
      _mm256_store_ps(out, y0);
      _mm256_store_ps(out + 8, y1);
      std::memcpy(yr, out, ncols * sizeof(float));
    }
  }
}

void Tile(const QGemmArgs& a, size_t m0, size_t mc, size_t n0, size_t nc) {
  for (size_t n = n0; n < n0 + nc; n += 16) {
    const size_t ncols = n0 + nc - n < 16 ? n0 + nc - n : 16;
    size_t m = m0;
    for (; m + kMR <= m0 + mc; m += kMR) Micro<kMR>(a, m, n, ncols);
    switch (m0 + mc - m) {
      case 2: Micro<2>(a, m, n, ncols); break;
      case 1: Micro<1>(a, m, n, ncols); break;
      default: break;
    }
  }
}

bool Supported(const CpuFeatures& f) { return f.avx2 && f.fma; }

}  // namespace

const QGemmKernel kQs8GemmAvx2 = {"qs8_gemm_3x16c4__avx2", Supported, {0, 0, true}, 4, QuantizeRowsAvx2,
                                  Tile, kMR, 16, false};

}  // namespace edge
