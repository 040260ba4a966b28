// W4A8 NVFP4 GEMM tile for AVX-512, shared by the VNNI and the BW files
// (Dot: vpdpbusd, or vpmaddubsw + vpmaddwd, both exact here).
//
// Weights stay 4.5 bits in memory (PackedNvfp4N16K64). Each 64-byte line
// decodes with two vpshufb into two 16-column x 4-k int8 tiles holding
// 2 * e2m1 + 12 in [0, 24] (unsigned, vpdpbusd's u8 operand); activations
// are the s8 operand, broadcast 4 bytes at a time. The +12 offset is removed
// exactly by starting each block's accumulator at -12 * sum(block of x)
// (computed by the activation quantizer). After each 16-k block, one FMA
// applies the E4M3 block scale. Register tile 6 rows x 32 columns: 12 int32
// block accumulators + 12 FP32 accumulators.
// Included only by *__avx512*.cc files (their ISA flags).
#pragma once

#include <immintrin.h>

#include <cstring>

#include "ops/quant_gemm_internal.h"

namespace edge {
namespace {  // per including file: each has its own ISA flags
namespace qnvfp4_avx512 {

constexpr int kMR = 6;
constexpr int kNP = 2;

inline int32_t Load4(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// 16 E4M3 bytes (0x00..0x7E; prepare rejects sign bits and NaN) to FP32,
// exactly as the E4M3 table, without reading subnormal floats (safe under
// denormals-are-zero): normals by moving the bits into FP32 position and
// rebiasing (7 -> 127), subnormals (byte < 8) as m * 2^-9.
inline __m512 DecodeE4M3(const uint8_t* p) {
  const __m512i v = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  const __m512i bits = _mm512_add_epi32(_mm512_slli_epi32(v, 20), _mm512_set1_epi32(120 << 23));
  const __mmask16 sub = _mm512_cmplt_epu32_mask(v, _mm512_set1_epi32(8));
  const __m512 s = _mm512_mask_cvtepi32_ps(_mm512_castsi512_ps(bits), sub, v);
  return _mm512_mask_mul_ps(s, sub, s, _mm512_set1_ps(1.0f / 512.0f));
}

// Accumulators are named variables, not arrays: GCC keeps arrays of vectors
// this large in memory (a store per multiply-add).
#define EDGE_ROW_VARS(r) __m512i c##r##0, c##r##1; __m512 f##r##0 = _mm512_setzero_ps(), f##r##1 = f##r##0;
#define EDGE_ROW_INIT(r)                                                   \
  if constexpr (MR > r) {                                                  \
    c##r##0 = _mm512_set1_epi32(corr[r * ldc + b]);                        \
    c##r##1 = c##r##0;                                                     \
  }
#define EDGE_ROW_DOT(r)                                                    \
  if constexpr (MR > r) {                                                  \
    const __m512i a0 = _mm512_set1_epi32(Load4(x + r * lda + k));          \
    const __m512i a1 = _mm512_set1_epi32(Load4(x + r * lda + k + 4));      \
    c##r##0 = Dot::Apply(c##r##0, wl0, a0);                                \
    c##r##0 = Dot::Apply(c##r##0, wh0, a1);                                \
    if constexpr (NP > 1) {                                                \
      c##r##1 = Dot::Apply(c##r##1, wl1, a0);                              \
      c##r##1 = Dot::Apply(c##r##1, wh1, a1);                              \
    }                                                                      \
  }
#define EDGE_ROW_SCALE(r)                                                          \
  if constexpr (MR > r) {                                                          \
    f##r##0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(c##r##0), s0, f##r##0);           \
    if constexpr (NP > 1) f##r##1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(c##r##1), s1, f##r##1); \
  }
#define EDGE_ROW_STORE(r) \
  if constexpr (MR > r) Store<NP>(a, m + r, n, ncols, f##r##0, f##r##1, bias0, bias1);
#define EDGE_ALL_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5)

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
inline void Store(const QGemmArgs& a, size_t m, size_t n, size_t ncols, __m512 f0, __m512 f1,
                  __m512 bias0, __m512 bias1) {
  const __m512 rs = _mm512_set1_ps(a.a_scale[m] * a.tensor_half);
  float* y = a.y + m * a.ldy + n;
  const __m512 f[2] = {f0, f1}, bias[2] = {bias0, bias1};
  for (int j = 0; j < NP; ++j) {
    const __m512 o = _mm512_fmadd_ps(f[j], rs, bias[j]);
    const size_t left = ncols - 16 * j;
    if (left >= 16) {
      StoreFull(y + 16 * j, o);
    } else {
      _mm512_mask_storeu_ps(y + 16 * j, static_cast<__mmask16>((1u << left) - 1), o);
    }
  }
}

// Rows [m, m+MR) x NP panels of 16 columns starting at n.
template <class Dot, int MR, int NP>
void Micro(const QGemmArgs& a, size_t m, size_t n, size_t ncols) {
  static_assert(MR <= kMR && NP <= 2, "tile");
  const size_t nbp = RoundUp(a.K, 16) / 16;
  const size_t nb = (a.K + 15) / 16;
  const size_t wstride = nbp * 128, sstride = nbp * 16;
  const uint8_t* w = a.w + (n / 16) * wstride;
  const uint8_t* sc = a.w_scales + (n / 16) * sstride;
  const uint8_t* x = a.a + m * a.lda;
  const int32_t* corr = a.a_corr + m * a.ldcorr;
  const size_t lda = a.lda, ldc = a.ldcorr;
  // 2*e2m1 + 12 for codes 0..15, in every 128-bit lane.
  const __m512i lut = _mm512_broadcast_i32x4(
      _mm_setr_epi8(12, 13, 14, 15, 16, 18, 20, 24, 12, 11, 10, 9, 8, 6, 4, 0));
  const __m512i lo4 = _mm512_set1_epi8(0x0F);
  EDGE_ALL_ROWS(EDGE_ROW_VARS)
  for (size_t b = 0; b < nb; ++b) {
    EDGE_ALL_ROWS(EDGE_ROW_INIT)
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) {
      const __m512i raw0 = _mm512_loadu_si512(w + b * 128 + h * 64);
      const __m512i wl0 = _mm512_shuffle_epi8(lut, _mm512_and_si512(raw0, lo4));
      const __m512i wh0 = _mm512_shuffle_epi8(lut, _mm512_and_si512(_mm512_srli_epi16(raw0, 4), lo4));
      __m512i wl1 = wl0, wh1 = wh0;
      if constexpr (NP > 1) {
        const __m512i raw1 = _mm512_loadu_si512(w + wstride + b * 128 + h * 64);
        wl1 = _mm512_shuffle_epi8(lut, _mm512_and_si512(raw1, lo4));
        wh1 = _mm512_shuffle_epi8(lut, _mm512_and_si512(_mm512_srli_epi16(raw1, 4), lo4));
      }
      const size_t k = b * 16 + h * 8;
      EDGE_ALL_ROWS(EDGE_ROW_DOT)
    }
    const __m512 s0 = DecodeE4M3(sc + b * 16);
    const __m512 s1 = NP > 1 ? DecodeE4M3(sc + sstride + b * 16) : s0;
    EDGE_ALL_ROWS(EDGE_ROW_SCALE)
  }
  const __m512 bias0 = _mm512_loadu_ps(a.bias + n);
  const __m512 bias1 = NP > 1 ? _mm512_loadu_ps(a.bias + n + 16) : bias0;
  EDGE_ALL_ROWS(EDGE_ROW_STORE)
}
#undef EDGE_ROW_VARS
#undef EDGE_ROW_INIT
#undef EDGE_ROW_DOT
#undef EDGE_ROW_SCALE
#undef EDGE_ROW_STORE
#undef EDGE_ALL_ROWS

template <class Dot, int NP>
void Rows(const QGemmArgs& a, size_t m0, size_t mc, size_t n, size_t ncols) {
  size_t m = m0;
  for (; m + kMR <= m0 + mc; m += kMR) Micro<Dot, kMR, NP>(a, m, n, ncols);
  switch (m0 + mc - m) {
    case 5: Micro<Dot, 5, NP>(a, m, n, ncols); break;
    case 4: Micro<Dot, 4, NP>(a, m, n, ncols); break;
    case 3: Micro<Dot, 3, NP>(a, m, n, ncols); break;
    case 2: Micro<Dot, 2, NP>(a, m, n, ncols); break;
    case 1: Micro<Dot, 1, NP>(a, m, n, ncols); break;
    default: break;
  }
}

template <class Dot>
void Tile(const QGemmArgs& a, size_t m0, size_t mc, size_t n0, size_t nc) {
  for (size_t n = n0; n < n0 + nc; n += 16 * kNP) {
    const size_t ncols = n0 + nc - n < 16 * kNP ? n0 + nc - n : 16 * kNP;
    if (ncols > 16) {
      Rows<Dot, 2>(a, m0, mc, n, ncols);
    } else {
      Rows<Dot, 1>(a, m0, mc, n, ncols);
    }
  }  _mm_sfence();  // order the streaming stores before the task completes
}

}  // namespace qnvfp4_avx512
}  // namespace
}  // namespace edge
