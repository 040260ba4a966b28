// W8A8 GEMM tile, AVX-512 VNNI: vpdpbusd multiplies u8 by s8, so activations
// are stored as u8 (q + 128) and the weights stay s8; the extra 128 * sum_k w
// is removed by starting each accumulator at -128 * sum_k w[n, k]
// (args.w_corr, computed at prepare). Register tile 8 rows x 48 columns
// (24 zmm accumulators, 3 weight vectors per group of 4 k, activations
// broadcast 4 bytes at a time).
#include <immintrin.h>

#include <cstring>

#include "ops/quant_gemm_internal.h"

namespace edge {
namespace {

constexpr int kMR = 8;
constexpr int kNP = 3;  // 16-column panels per register tile

inline int32_t Load4(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// Accumulators are named variables, not an array: GCC keeps arrays of
// vectors this large in memory (a store per multiply-add).
#define EDGE_ACC_ROW(r) __m512i c##r##0, c##r##1, c##r##2;
#define EDGE_INIT_ROW(r) \
  c##r##0 = k0;          \
  c##r##1 = k1;          \
  c##r##2 = k2;
#define EDGE_STEP_ROW(r)                                                    \
  if constexpr (MR > r) {                                                   \
    const __m512i av = _mm512_set1_epi32(Load4(x + r * lda + k));           \
    c##r##0 = _mm512_dpbusd_epi32(c##r##0, av, w0);                         \
    if constexpr (NP > 1) c##r##1 = _mm512_dpbusd_epi32(c##r##1, av, w1);   \
    if constexpr (NP > 2) c##r##2 = _mm512_dpbusd_epi32(c##r##2, av, w2);   \
  }
#define EDGE_STORE_ROW(r) \
  if constexpr (MR > r) Store<NP>(a, m + r, n, ncols, c##r##0, c##r##1, c##r##2, sw0, sw1, sw2, b0, b1, b2);

// Full 16-float stores of a 64-byte aligned output bypass the caches: the
// output (M x N floats) is written once and is usually far larger than L2,
// so this saves the read-for-ownership traffic.
inline void StoreFull(float* y, __m512 v) {
  if ((reinterpret_cast<uintptr_t>(y) & 63) == 0) {
    _mm512_stream_ps(y, v);
  } else {
    _mm512_storeu_ps(y, v);
  }
}

template <int NP>
inline void Store(const QGemmArgs& a, size_t m, size_t n, size_t ncols, __m512i c0, __m512i c1,
                  __m512i c2, __m512 sw0, __m512 sw1, __m512 sw2, __m512 b0, __m512 b1, __m512 b2) {
  const __m512 sa = _mm512_set1_ps(a.a_scale[m]);
  float* y = a.y + m * a.ldy + n;
  const __m512i c[3] = {c0, c1, c2};
  const __m512 sw[3] = {sw0, sw1, sw2}, b[3] = {b0, b1, b2};
  for (int j = 0; j < NP; ++j) {
    const __m512 o = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(c[j]), sa), sw[j], b[j]);
    const size_t left = ncols - 16 * j;
    if (left >= 16) {
      StoreFull(y + 16 * j, o);
    } else {
      _mm512_mask_storeu_ps(y + 16 * j, static_cast<__mmask16>((1u << left) - 1), o);
    }
  }
}

template <int MR, int NP>
void Micro(const QGemmArgs& a, size_t m, size_t n, size_t ncols) {
  const size_t Kp = RoundUp(a.K, 4);
  const size_t pstride = 16 * Kp;
  const uint8_t* w = a.w + (n / 16) * pstride;
  const uint8_t* x = a.a + m * a.lda;
  const size_t lda = a.lda;
  const __m512i k0 = _mm512_loadu_si512(a.w_corr + n);
  const __m512i k1 = NP > 1 ? _mm512_loadu_si512(a.w_corr + n + 16) : k0;
  const __m512i k2 = NP > 2 ? _mm512_loadu_si512(a.w_corr + n + 32) : k0;
  EDGE_ACC_ROW(0) EDGE_ACC_ROW(1) EDGE_ACC_ROW(2) EDGE_ACC_ROW(3)
  EDGE_ACC_ROW(4) EDGE_ACC_ROW(5) EDGE_ACC_ROW(6) EDGE_ACC_ROW(7)
  EDGE_INIT_ROW(0) EDGE_INIT_ROW(1) EDGE_INIT_ROW(2) EDGE_INIT_ROW(3)
  EDGE_INIT_ROW(4) EDGE_INIT_ROW(5) EDGE_INIT_ROW(6) EDGE_INIT_ROW(7)
  for (size_t k = 0; k < Kp; k += 4) {
    const __m512i w0 = _mm512_loadu_si512(w + k * 16);
    const __m512i w1 = NP > 1 ? _mm512_loadu_si512(w + pstride + k * 16) : w0;
    const __m512i w2 = NP > 2 ? _mm512_loadu_si512(w + 2 * pstride + k * 16) : w0;
    EDGE_STEP_ROW(0) EDGE_STEP_ROW(1) EDGE_STEP_ROW(2) EDGE_STEP_ROW(3)
    EDGE_STEP_ROW(4) EDGE_STEP_ROW(5) EDGE_STEP_ROW(6) EDGE_STEP_ROW(7)
  }
  const __m512 sw0 = _mm512_loadu_ps(a.w_scale + n), b0 = _mm512_loadu_ps(a.bias + n);
  const __m512 sw1 = NP > 1 ? _mm512_loadu_ps(a.w_scale + n + 16) : sw0;
  const __m512 b1 = NP > 1 ? _mm512_loadu_ps(a.bias + n + 16) : b0;
  const __m512 sw2 = NP > 2 ? _mm512_loadu_ps(a.w_scale + n + 32) : sw0;
  const __m512 b2 = NP > 2 ? _mm512_loadu_ps(a.bias + n + 32) : b0;
  EDGE_STORE_ROW(0) EDGE_STORE_ROW(1) EDGE_STORE_ROW(2) EDGE_STORE_ROW(3)
  EDGE_STORE_ROW(4) EDGE_STORE_ROW(5) EDGE_STORE_ROW(6) EDGE_STORE_ROW(7)
}
#undef EDGE_ACC_ROW
#undef EDGE_INIT_ROW
#undef EDGE_STEP_ROW
#undef EDGE_STORE_ROW

template <int NP>
void Rows(const QGemmArgs& a, size_t m0, size_t mc, size_t n, size_t ncols) {
  size_t m = m0;
  for (; m + kMR <= m0 + mc; m += kMR) Micro<kMR, NP>(a, m, n, ncols);
  switch (m0 + mc - m) {
    case 7: Micro<7, NP>(a, m, n, ncols); break;
    case 6: Micro<6, NP>(a, m, n, ncols); break;
    case 5: Micro<5, NP>(a, m, n, ncols); break;
    case 4: Micro<4, NP>(a, m, n, ncols); break;
    case 3: Micro<3, NP>(a, m, n, ncols); break;
    case 2: Micro<2, NP>(a, m, n, ncols); break;
    case 1: Micro<1, NP>(a, m, n, ncols); break;
    default: break;
  }
}

void Tile(const QGemmArgs& a, size_t m0, size_t mc, size_t n0, size_t nc) {
  for (size_t n = n0; n < n0 + nc; n += 16 * kNP) {
    const size_t ncols = n0 + nc - n < 16 * kNP ? n0 + nc - n : 16 * kNP;
    switch ((ncols + 15) / 16) {
      case 3: Rows<3>(a, m0, mc, n, ncols); break;
      case 2: Rows<2>(a, m0, mc, n, ncols); break;
      default: Rows<1>(a, m0, mc, n, ncols); break;
    }
  }  _mm_sfence();  // order the streaming stores before the task completes
}

bool Supported(const CpuFeatures& f) { return f.avx512f && f.avx512bw && f.avx512vl && f.avx512vnni; }

}  // namespace

const QGemmKernel kQs8GemmAvx512vnni = {"qs8_gemm_8x48c4__avx512vnni", Supported, {0x80, 0}, 4,
                                        QuantizeRowsAvx512, Tile, kMR, 16 * kNP, true};

}  // namespace edge
