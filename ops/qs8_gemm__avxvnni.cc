// W8A8 GEMM tile, AVX-VNNI (VEX vpdpbusd on ymm): u8 activations (q + 128),
// s8 weights, accumulators start at -128 * sum_k w (args.w_corr), as in the
// AVX-512 VNNI file. Register tile 6 rows x 16 columns (12 ymm accumulators).
#include <immintrin.h>

#include <cstring>

#include "ops/quant_gemm_internal.h"

namespace edge {
namespace {

constexpr int kMR = 6;

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
  __m256i acc[MR][2];
  const __m256i c0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.w_corr + n));
  const __m256i c1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.w_corr + n + 8));
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) {
    acc[r][0] = c0;
    acc[r][1] = c1;
  }
  for (size_t k = 0; k < Kp; k += 4) {
    const __m256i w0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + k * 16));
    const __m256i w1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + k * 16 + 32));
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      const __m256i av = _mm256_set1_epi32(Load4(x + r * a.lda + k));
      acc[r][0] = _mm256_dpbusd_avx_epi32(acc[r][0], av, w0);
      acc[r][1] = _mm256_dpbusd_avx_epi32(acc[r][1], av, w1);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) {
    const __m256 sa = _mm256_set1_ps(a.a_scale[m + r]);
    alignas(32) float out[16];
    for (int h = 0; h < 2; ++h) {
      const __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(acc[r][h]), sa);
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
      case 5: Micro<5>(a, m, n, ncols); break;
      case 4: Micro<4>(a, m, n, ncols); break;
      case 3: Micro<3>(a, m, n, ncols); break;
      case 2: Micro<2>(a, m, n, ncols); break;
      case 1: Micro<1>(a, m, n, ncols); break;
      default: break;
    }
  }
}

bool Supported(const CpuFeatures& f) { return f.avxvnni && f.avx2 && f.fma; }

}  // namespace

const QGemmKernel kQs8GemmAvxvnni = {"qs8_gemm_6x16c4__avxvnni", Supported, {0x80, 0}, 4,
                                     QuantizeRowsAvx2, Tile, kMR, 16, true};

}  // namespace edge
