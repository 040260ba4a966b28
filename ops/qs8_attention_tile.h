// The INT8 attention tile (see ops/qs8_attention.h), written once over a
// vocabulary Q = float ops of ops/f32_vec.h plus the two integer products, and
// instantiated per ISA file. Q fixes the packed layouts: K and Q rows in
// groups of kKG channels of type KE (int16 pairs for vpmaddwd, int8 quads for
// NEON sdot), V in groups of kVG keys of int16 (pairs, or single keys for
// NEON's multiply-by-lane). The integers are the same for every Q. For one (batch, head) and up to QB queries:
//
//   for each span of up to two 64-key tiles (K and V already quantized and packed):
//     for each group of MR query rows:
//       S[MR][128] = (q8 . k8) * s_q * s_k[t] * scale * log2(e)   (int32 dot, then FP32)
//       per row: m' = max(m, max S); alpha = 2^(m - m');
//                p16 = floor(2^(S - m') * 32767 + 0.5); l = l * alpha + sum p16
//       O[MR][cp] = alpha * O + (p16 . v8) * s_v        (int32 dot per tile)
//   out = O / l
//
// As in the FP32 tile the running max starts at -FLT_MAX (never -inf) and
// tail keys are masked to -FLT_MAX, so no exponent overflows and tail keys
// get p16 = 0 (their packed K and V are zero as well).
#pragma once

#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "ops/f32_vec.h"
#include "ops/qs8_attention.h"

namespace edge {
namespace {

constexpr size_t kQ8KT = kQs8AttnKeyTile;
// Dense plans run two packed tiles through one softmax step (sparse plans a
// gathered span of up to 128 keys): the per-row work
// of a step (reductions, the rescale factor) is paid once per 128 keys, which
// matters at small head dims (d = 32: as many softmax as product operations).
constexpr size_t kQ8Span = 2 * kQ8KT;

// Portable int16-pair vocabulary: one int32 lane.
struct QVecScalar : VecScalar {
  using KE = int16_t;
  static constexpr int kKG = 2, kVG = 2;
  static constexpr bool kTransposeK8 = false;  // gathers K key by key
  static constexpr int kPLanes = 0;  // P.V one key group at a time
  using A = int32_t;
  struct P {
    int32_t lo, hi;
  };
  using PK = P;
  using PV = P;
  using PP = P;
  static A izero() { return 0; }
  static P pload(const int16_t* p) { return {p[0], p[1]}; }
  static P pbcast(const int16_t* p) { return {p[0], p[1]}; }
  static A madd(A acc, P a, P b) { return acc + a.lo * b.lo + a.hi * b.hi; }
  // Q.K^T and P.V use the same pair product here.
  static P pload_k(const KE* p) { return pload(p); }
  static P pbcast_q(const KE* p) { return pbcast(p); }
  static A madd_qk(A acc, P a, P b) { return madd(acc, a, b); }
  static P pload_v(const int16_t* p) { return pload(p); }
  static P pbcast_p(const int16_t* p) { return pbcast(p); }
  static A madd_pv(A acc, P a, P b) { return madd(acc, a, b); }
  static V to_float(A a) { return static_cast<float>(a); }
  // x0, x1 >= 0 (already x * 32767 + 0.5): stores trunc(x0), trunc(x1) as
  // 2 * kW int16 in order, returns their sum per int32 lane.
  static A store_p16x2(int16_t* dst, V x0, V x1) {
    // Truncation; a NaN (rows of a head with non-finite K or V, overwritten
    // with NaN at the end) gives 0 here, not an undefined conversion.
    auto trunc = [](float x) { return x >= 0.f && x < 65536.f ? static_cast<int32_t>(x) : 0; };
    const int32_t i0 = trunc(x0), i1 = trunc(x1);
    dst[0] = static_cast<int16_t>(i0);
    dst[1] = static_cast<int16_t>(i1);
    return i0 + i1;
  }
  static A iadd(A a, A b) { return a + b; }
  static int32_t ireduce(A a) { return a; }
  // Two keys' value rows a, b ([cp] each, cp a multiple of 16) into one key
  // pair group of the V tile layout: dst[2c] = a[c], dst[2c + 1] = b[c].
  static void interleave_pair(int16_t* dst, const int16_t* a, const int16_t* b, size_t cp) {
    for (size_t c = 0; c < cp; ++c) {
      dst[2 * c] = a[c];
      dst[2 * c + 1] = b[c];
    }
  }
  // INT8 quantization of x (already divided by the scale): round half away
  // from zero, clamp to [-127, 127], store n <= kW values as int16. The same
  // IEEE operations on every ISA, so every ISA packs the same integers.
  static void quant_store_n(int16_t* dst, V x, int n) {
    if (n <= 0) return;
    int r = static_cast<int>(x + (x >= 0.f ? 0.5f : -0.5f));
    r = r > 127 ? 127 : r;
    *dst = static_cast<int16_t>(r < -127 ? -127 : r);
  }
};

#if defined(__AVX2__) && defined(__FMA__)
// AVX2: vpmaddwd multiplies 16 int16 pairs and adds each pair into 8 int32
// lanes: 16 multiply-adds per instruction.
struct QVecAvx2 : VecAvx2 {
  using KE = int16_t;
  static constexpr int kKG = 2, kVG = 2;
  // Gathers K eight keys at a time: key-major rows of channel pairs (one
  // dword each) transposed 8 x 8 into the tile's [pair][key] rows.
  static constexpr bool kTransposeK8 = true;
  static void transpose_k8(int16_t* dst, size_t dst_stride, const int16_t* const* src, size_t dhg) {
    size_t g = 0;
    for (; g + 8 <= dhg; g += 8) {
      __m256i r[8];
      for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src[i] + 2 * g));
      // Per 128-bit lane: pairs of keys, then quads; then the lanes.
      const __m256i t0 = _mm256_unpacklo_epi32(r[0], r[1]), t1 = _mm256_unpackhi_epi32(r[0], r[1]);
      const __m256i t2 = _mm256_unpacklo_epi32(r[2], r[3]), t3 = _mm256_unpackhi_epi32(r[2], r[3]);
      const __m256i t4 = _mm256_unpacklo_epi32(r[4], r[5]), t5 = _mm256_unpackhi_epi32(r[4], r[5]);
      const __m256i t6 = _mm256_unpacklo_epi32(r[6], r[7]), t7 = _mm256_unpackhi_epi32(r[6], r[7]);
      const __m256i u0 = _mm256_unpacklo_epi64(t0, t2), u1 = _mm256_unpackhi_epi64(t0, t2);
      const __m256i u2 = _mm256_unpacklo_epi64(t1, t3), u3 = _mm256_unpackhi_epi64(t1, t3);
      const __m256i u4 = _mm256_unpacklo_epi64(t4, t6), u5 = _mm256_unpackhi_epi64(t4, t6);
      const __m256i u6 = _mm256_unpacklo_epi64(t5, t7), u7 = _mm256_unpackhi_epi64(t5, t7);
      const __m256i o[8] = {_mm256_permute2x128_si256(u0, u4, 0x20), _mm256_permute2x128_si256(u1, u5, 0x20),
                            _mm256_permute2x128_si256(u2, u6, 0x20), _mm256_permute2x128_si256(u3, u7, 0x20),
                            _mm256_permute2x128_si256(u0, u4, 0x31), _mm256_permute2x128_si256(u1, u5, 0x31),
                            _mm256_permute2x128_si256(u2, u6, 0x31), _mm256_permute2x128_si256(u3, u7, 0x31)};
      for (int j = 0; j < 8; ++j)
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + (g + j) * dst_stride), o[j]);
    }
    for (; g < dhg; ++g)
      for (int i = 0; i < 8; ++i) std::memcpy(dst + g * dst_stride + 2 * i, src[i] + 2 * g, 2 * sizeof(int16_t));
  }
  static constexpr int kPLanes = 0;
  using A = __m256i;
  using P = __m256i;
  using PK = P;
  using PV = P;
  using PP = P;
  static A izero() { return _mm256_setzero_si256(); }
  static P pload(const int16_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static P pbcast(const int16_t* p) {
    int32_t w;
    std::memcpy(&w, p, sizeof(w));
    return _mm256_set1_epi32(w);
  }
  // acc += product, added in place: written as a plain add, GCC 12 puts the
  // sum into the product's register and copies it back to the accumulator,
  // one extra move per vpmaddwd in the inner loops.
  static A madd(A acc, P a, P b) {
    const __m256i prod = _mm256_madd_epi16(a, b);
    __asm__("vpaddd %1, %0, %0" : "+x"(acc) : "x"(prod));
    return acc;
  }
  static P pload_k(const KE* p) { return pload(p); }
  static P pbcast_q(const KE* p) { return pbcast(p); }
  static A madd_qk(A acc, P a, P b) { return madd(acc, a, b); }
  static P pload_v(const int16_t* p) { return pload(p); }
  static P pbcast_p(const int16_t* p) { return pbcast(p); }
  static A madd_pv(A acc, P a, P b) { return madd(acc, a, b); }
  static V to_float(A a) { return _mm256_cvtepi32_ps(a); }
  static A store_p16x2(int16_t* dst, V x0, V x1) {
    const __m256i i0 = _mm256_cvttps_epi32(x0), i1 = _mm256_cvttps_epi32(x1);
    // packs works per 128-bit lane: [a0..3 b0..3 | a4..7 b4..7]; put the
    // quadwords in order.
    const __m256i pk = _mm256_permute4x64_epi64(_mm256_packs_epi32(i0, i1), 0xD8);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), pk);
    return _mm256_add_epi32(i0, i1);
  }
  static A iadd(A a, A b) { return _mm256_add_epi32(a, b); }
  static int32_t ireduce(A a) {
    __m128i x = _mm_add_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
    x = _mm_add_epi32(x, _mm_shuffle_epi32(x, 0x4E));
    x = _mm_add_epi32(x, _mm_shuffle_epi32(x, 0xB1));
    return _mm_cvtsi128_si32(x);
  }
  static void interleave_pair(int16_t* dst, const int16_t* a, const int16_t* b, size_t cp) {
    for (size_t c = 0; c < cp; c += 16) {
      const __m256i va = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + c));
      const __m256i vb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + c));
      // unpack works per 128-bit lane: lo = channels 0-3 | 8-11, hi = 4-7 | 12-15.
      const __m256i lo = _mm256_unpacklo_epi16(va, vb), hi = _mm256_unpackhi_epi16(va, vb);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + 2 * c), _mm256_permute2x128_si256(lo, hi, 0x20));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + 2 * c + 16), _mm256_permute2x128_si256(lo, hi, 0x31));
    }
  }
  static void quant_store_n(int16_t* dst, V x, int n) {
    // x + copysign(0.5, x) then truncation: round half away from zero (-0
    // gives +-0.5 -> 0 either way, as the scalar form).
    const V half = _mm256_or_ps(_mm256_set1_ps(0.5f),
                                _mm256_and_ps(x, _mm256_castsi256_ps(_mm256_set1_epi32(INT32_MIN))));
    __m256i i = _mm256_cvttps_epi32(_mm256_add_ps(x, half));
    i = _mm256_max_epi32(_mm256_min_epi32(i, _mm256_set1_epi32(127)), _mm256_set1_epi32(-127));
    const __m256i pk = _mm256_permute4x64_epi64(_mm256_packs_epi32(i, i), 0x08);
    if (n >= 8) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), _mm256_castsi256_si128(pk));
    } else {
      int16_t tmp[8];
      _mm_storeu_si128(reinterpret_cast<__m128i*>(tmp), _mm256_castsi256_si128(pk));
      std::memcpy(dst, tmp, static_cast<size_t>(n > 0 ? n : 0) * sizeof(int16_t));
    }
  }
};
#endif

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && defined(__AVX2__) && defined(__FMA__)
#if defined(__AVX512VNNI__)
constexpr bool kHasVnni = true;
#else
constexpr bool kHasVnni = false;
#endif
// AVX-512: the AVX2 tile's integers and layouts on 512-bit vectors. With
// VNNI (kVnni), vpdpwssd multiplies 32 int16 pairs and adds them into the 16
// int32 lanes in one instruction; without it, vpmaddwd and vpaddd do the same
// in two. The sums are exact either way.
template <bool kVnni>
struct QVecAvx512 : VecAvx512 {
  using KE = int16_t;
  static constexpr int kKG = 2, kVG = 2;
  // Gathered keys: AVX2's 8 x 8 dword transpose (the layout does not depend
  // on the vector width).
  static constexpr bool kTransposeK8 = true;
  static void transpose_k8(int16_t* dst, size_t dst_stride, const int16_t* const* src, size_t dhg) {
    QVecAvx2::transpose_k8(dst, dst_stride, src, dhg);
  }
  static constexpr int kPLanes = 0;
  using A = __m512i;
  using P = __m512i;
  using PK = P;
  using PV = P;
  using PP = P;
  static A izero() { return _mm512_setzero_si512(); }
  static P pload(const int16_t* p) { return _mm512_loadu_si512(p); }
  static P pbcast(const int16_t* p) {
    int32_t w;
    std::memcpy(&w, p, sizeof(w));
    return _mm512_set1_epi32(w);
  }
  static A madd(A acc, P a, P b) {
#if defined(__AVX512VNNI__)
    if constexpr (kVnni) return _mm512_dpwssd_epi32(acc, a, b);
#endif
    static_assert(!kVnni || kHasVnni, "the VNNI tile needs a file built with AVX-512 VNNI");
    return _mm512_add_epi32(acc, _mm512_madd_epi16(a, b));
  }
  static P pload_k(const KE* p) { return pload(p); }
  static P pbcast_q(const KE* p) { return pbcast(p); }
  static A madd_qk(A acc, P a, P b) { return madd(acc, a, b); }
  static P pload_v(const int16_t* p) { return pload(p); }
  static P pbcast_p(const int16_t* p) { return pbcast(p); }
  static A madd_pv(A acc, P a, P b) { return madd(acc, a, b); }
  static V to_float(A a) { return _mm512_cvtepi32_ps(a); }
  static A store_p16x2(int16_t* dst, V x0, V x1) {
    const __m512i i0 = _mm512_cvttps_epi32(x0), i1 = _mm512_cvttps_epi32(x1);
    // packs works per 128-bit lane: quadwords [a0-3 b0-3 | a4-7 b4-7 | ...];
    // put them in order (a0..15, then b0..15).
    const __m512i order = _mm512_setr_epi64(0, 2, 4, 6, 1, 3, 5, 7);
    _mm512_storeu_si512(dst, _mm512_permutexvar_epi64(order, _mm512_packs_epi32(i0, i1)));
    return _mm512_add_epi32(i0, i1);
  }
  static A iadd(A a, A b) { return _mm512_add_epi32(a, b); }
  static int32_t ireduce(A a) { return _mm512_reduce_add_epi32(a); }
  static void interleave_pair(int16_t* dst, const int16_t* a, const int16_t* b, size_t cp) {
    QVecAvx2::interleave_pair(dst, a, b, cp);
  }
  static void quant_store_n(int16_t* dst, V x, int n) {
    if (n <= 0) return;
    // x + copysign(0.5, x) then truncation: round half away from zero, as
    // the scalar form; clamped to [-127, 127], so the narrowing is exact.
    const __m512i sign = _mm512_set1_epi32(INT32_MIN);
    const V half = _mm512_castsi512_ps(
        _mm512_or_si512(_mm512_castps_si512(_mm512_set1_ps(0.5f)), _mm512_and_si512(_mm512_castps_si512(x), sign)));
    __m512i i = _mm512_cvttps_epi32(_mm512_add_ps(x, half));
    i = _mm512_max_epi32(_mm512_min_epi32(i, _mm512_set1_epi32(127)), _mm512_set1_epi32(-127));
    const __m256i h = _mm512_cvtepi32_epi16(i);
    if (n >= kW) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), h);
    } else {
      _mm256_mask_storeu_epi16(dst, static_cast<__mmask16>((1u << n) - 1u), h);
    }
  }
};
#endif

// Channel groups of a Q/K row.
template <class Q>
static inline size_t q8_dhg(size_t dh) { return (dh + Q::kKG - 1) / Q::kKG; }
static inline size_t q8_cp(size_t dh) { return (dh + 15) / 16 * 16; }

// Byte offsets of a packed head (see Qs8AttentionHead).
struct Q8HeadLayout {
  size_t q, qs, k, ks, v, vs, km, total;
};

static inline size_t q8_align64(size_t v) { return (v + 63) / 64 * 64; }

template <class Q>
static inline Q8HeadLayout q8_head_layout(const F32AttentionParams& p) {
  using KE = typename Q::KE;
  const size_t dhg = q8_dhg<Q>(p.head_dim), cp = q8_cp(p.head_dim);
  const size_t T = (p.nk + kQ8KT - 1) / kQ8KT;
  Q8HeadLayout l;
  size_t off = 0;
  l.q = off;
  off = q8_align64(off + p.nq * dhg * Q::kKG * sizeof(KE));
  l.qs = off;
  off = q8_align64(off + p.nq * sizeof(float));
  l.k = off;
  off = q8_align64(off + T * dhg * kQ8KT * Q::kKG * sizeof(KE));
  l.ks = off;
  off = q8_align64(off + T * kQ8KT * sizeof(float));
  l.v = off;
  off = q8_align64(off + T * (kQ8KT / 2) * cp * 2 * sizeof(int16_t));
  l.vs = off;
  off = q8_align64(off + cp * sizeof(float));
  l.km = off;
  off = q8_align64(off + p.head_dim * sizeof(float));
  l.total = off;
  return l;
}

// dst[0, n) = max(dst, |x - sub|) per element (sub may be null); z gathers
// x * 0 (NaN once any x is NaN/Inf).
template <class Q>
static inline void q8_absmax_into(float* dst, const float* x, const float* sub, size_t n,
                                  typename Q::V* z) {
  size_t d = 0;
  for (; d < n; d += Q::kW) {
    const int m = static_cast<int>(n - d);
    typename Q::V v = Q::load_n(x + d, m);
    *z = Q::add(*z, Q::mul(v, Q::zero()));
    if (sub != nullptr) v = Q::sub(v, Q::load_n(sub + d, m));
    Q::store_n(dst + d, Q::max(Q::load_n(dst + d, m), Q::abs(v)), m);
  }
}

// max |x - sub| over n values (sub may be null); z gathers x * 0 (NaN once
// any x is NaN/Inf). Max is exact in any order: the same on every ISA.
template <class Q>
static inline float q8_absmax(const float* x, const float* sub, size_t n, typename Q::V* z) {
  typename Q::V mx = Q::zero();
  for (size_t d = 0; d < n; d += Q::kW) {
    const int m = static_cast<int>(n - d);
    typename Q::V v = Q::load_n(x + d, m);
    *z = Q::add(*z, Q::mul(v, Q::zero()));
    if (sub != nullptr) v = Q::sub(v, Q::load_n(sub + d, m));
    mx = Q::max(mx, Q::abs(v));
  }
  return Q::reduce_max(mx);
}

// out[0, n) = quant((x - sub) * scale) (sub may be null; scale one value, or
// per element when scales is set).
template <class Q>
static inline void q8_quant_row(int16_t* out, const float* x, const float* sub, float scale,
                                const float* scales, size_t n) {
  for (size_t d = 0; d < n; d += Q::kW) {
    const int m = static_cast<int>(n - d);
    typename Q::V v = Q::load_n(x + d, m);
    if (sub != nullptr) v = Q::sub(v, Q::load_n(sub + d, m));
    v = Q::mul(v, scales != nullptr ? Q::load_n(scales + d, m) : Q::set1(scale));
    Q::quant_store_n(out + d, v, m);
  }
}

// Quantizes and packs head (b, h) into mem (see ops/qs8_attention.h). Portable
// arithmetic on every ISA: mean in token order, max, and one multiply before
// rounding, so the integers do not depend on the ISA.
template <class Q>
static Qs8AttentionHead q8_pack_head(const F32AttentionParams& p, size_t b, size_t h, void* mem) {
  using V = typename Q::V;
  using KE = typename Q::KE;
  constexpr size_t G = Q::kKG, VG = Q::kVG;
  const Q8HeadLayout l = q8_head_layout<Q>(p);
  uint8_t* base = static_cast<uint8_t*>(mem);
  Qs8AttentionHead hd;
  KE* const hq = reinterpret_cast<KE*>(base + l.q);
  KE* const hk = reinterpret_cast<KE*>(base + l.k);
  hd.q = hq;
  hd.qs = reinterpret_cast<float*>(base + l.qs);
  hd.k = hk;
  hd.ks = reinterpret_cast<float*>(base + l.ks);
  hd.v = reinterpret_cast<int16_t*>(base + l.v);
  hd.vs = reinterpret_cast<float*>(base + l.vs);
  hd.km = reinterpret_cast<float*>(base + l.km);
  hd.key_major = p.k_perm != nullptr;
  const size_t dh = p.head_dim, dhg = q8_dhg<Q>(dh), cp = q8_cp(dh);
  const size_t T = (p.nk + kQ8KT - 1) / kQ8KT;
  float cm[kQs8AttnMaxHeadDim];    // per-channel maxima
  float km[kQs8AttnMaxHeadDim];    // K mean
  int16_t row[kQs8AttnMaxHeadDim + 4];

  // Q: one scale per row.
  constexpr bool kInt16 = sizeof(KE) == sizeof(int16_t);
  for (size_t i = 0; i < p.nq; ++i) {
    const float* x = p.q + b * p.q_bs + h * p.q_hs + i * p.q_ts;
    KE* dst = hq + i * dhg * G;
    V z = Q::zero();
    const float amax = q8_absmax<Q>(x, nullptr, dh, &z);
    std::memset(dst, 0, dhg * G * sizeof(KE));  // pad channels stay 0
    if (Q::reduce_add(z) != 0.f || amax == 0.f) {
      hd.qs[i] = amax == 0.f && Q::reduce_add(z) == 0.f ? 0.f : NAN;
      continue;
    }
    hd.qs[i] = amax / 127.f;
    if constexpr (kInt16) {
      q8_quant_row<Q>(reinterpret_cast<int16_t*>(dst), x, nullptr, 127.f / amax, nullptr, dh);
    } else {
      q8_quant_row<Q>(row, x, nullptr, 127.f / amax, nullptr, dh);
      for (size_t d = 0; d < dh; ++d) dst[d] = static_cast<KE>(row[d]);
    }
  }

  // Smoothed K: subtract the mean over tokens (per channel, summed in token
  // order), one scale per key, packed as [tile][dhg][64][G], or [key][dhg][G]
  // for cluster plans (key_major). Per-key scales let sparse plans gather
  // any keys into a tile.
  for (size_t d = 0; d < dh; ++d) km[d] = 0.f;
  for (size_t j = 0; j < p.nk; ++j) {
    const float* x = p.k + b * p.k_bs + h * p.k_hs + j * p.k_ts;
    for (size_t d = 0; d < dh; d += Q::kW) {
      const int m = static_cast<int>(dh - d);
      Q::store_n(km + d, Q::add(Q::load_n(km + d, m), Q::load_n(x + d, m)), m);
    }
  }
  const float inv_nk = 1.f / static_cast<float>(p.nk);
  for (size_t d = 0; d < dh; ++d) {
    km[d] *= inv_nk;
    hd.km[d] = km[d];
  }
  bool bad = false;
  std::memset(hk, 0, T * dhg * kQ8KT * G * sizeof(KE));
  for (size_t j = p.nk; j < T * kQ8KT; ++j) hd.ks[j] = 0.f;  // tail keys
  for (size_t d = dh; d < dhg * G; ++d) row[d] = 0;
  for (size_t j = 0; j < p.nk && !bad; ++j) {
    const float* x = p.k + b * p.k_bs + h * p.k_hs + j * p.k_ts;
    V z = Q::zero();
    const float amax = q8_absmax<Q>(x, km, dh, &z);
    bad = Q::reduce_add(z) != 0.f;
    hd.ks[j] = amax / 127.f;
    if (amax == 0.f || bad) continue;
    if (hd.key_major && kInt16) {
      q8_quant_row<Q>(reinterpret_cast<int16_t*>(hk + j * dhg * G), x, km, 127.f / amax, nullptr, dh);
      continue;
    }
    q8_quant_row<Q>(row, x, km, 127.f / amax, nullptr, dh);
    KE* dst = hd.key_major ? hk + j * dhg * G : hk + (j / kQ8KT) * dhg * kQ8KT * G + (j % kQ8KT) * G;
    const size_t stride = hd.key_major ? G : kQ8KT * G;
    if constexpr (kInt16) {
      for (size_t dg = 0; dg < dhg; ++dg) std::memcpy(dst + dg * stride, row + dg * G, G * sizeof(KE));
    } else {
      for (size_t dg = 0; dg < dhg; ++dg)
        for (size_t e = 0; e < G; ++e) dst[dg * stride + e] = static_cast<KE>(row[dg * G + e]);
    }
  }

  // V: one scale per channel over all tokens (the P.V sum runs over tokens),
  // packed as [tile][64 / VG key groups][cp][VG], or [key][cp] (key_major).
  for (size_t c = 0; c < cp; ++c) hd.vs[c] = 0.f;
  V z = Q::zero();
  for (size_t j = 0; j < p.nk && !bad; ++j) {
    q8_absmax_into<Q>(hd.vs, p.v + b * p.v_bs + h * p.v_hs + j * p.v_ts, nullptr, dh, &z);
  }
  bad = bad || Q::reduce_add(z) != 0.f;
  std::memset(hd.v, 0, T * kQ8KT * cp * sizeof(int16_t));
  if (!bad) {
    for (size_t d = 0; d < dh; ++d) {
      cm[d] = hd.vs[d] > 0.f ? 127.f / hd.vs[d] : 0.f;
      hd.vs[d] /= 127.f;
    }
    const float* vh = p.v + b * p.v_bs + h * p.v_hs;
    auto rows_in_place = [&] {  // [key][cp] (pad channels stay 0)
      for (size_t j = 0; j < p.nk; ++j) q8_quant_row<Q>(hd.v + j * cp, vh + j * p.v_ts, nullptr, 0.f, cm, dh);
    };
    if constexpr (VG == 1) {
      rows_in_place();
    } else if (hd.key_major) {
      rows_in_place();
    } else {
      static_assert(VG == 2, "V key groups of 1 or 2");
      // Key pairs: two rows interleaved channel by channel (a lone last key
      // pairs with zeros).
      int16_t row2[kQs8AttnMaxHeadDim + 16];
      for (size_t d = 0; d < cp; ++d) row[d] = row2[d] = 0;
      for (size_t j = 0; j < p.nk; j += 2) {
        q8_quant_row<Q>(row, vh + j * p.v_ts, nullptr, 0.f, cm, dh);
        if (j + 1 < p.nk) {
          q8_quant_row<Q>(row2, vh + (j + 1) * p.v_ts, nullptr, 0.f, cm, dh);
        } else {
          for (size_t d = 0; d < cp; ++d) row2[d] = 0;
        }
        Q::interleave_pair(hd.v + (j / kQ8KT) * kQ8KT * cp + ((j % kQ8KT) / 2) * cp * 2, row, row2, cp);
      }
    }
  }
  hd.bad = bad;
  return hd;
}

// Per thread: S rows, p16 rows, O accumulators, running max and sum, and a
// gathered tile (K groups, V, key scales) for cluster plans and centroids,
// and the centroids' logit biases. Sized for int16 K storage, the larger one.
template <int MR>
static size_t q8_attn_scratch_floats(size_t dh, size_t qb) {
  const size_t cp = q8_cp(dh), dh2 = (dh + 3) / 4 * 4;
  const size_t gather = (dh2 * kQ8Span * 2 + kQ8Span * cp * 2) / sizeof(float) + kQ8Span +
                        kQ8Span + cp / 2 + 16 + 64;  // + centroid logit biases, a zero V row
  const size_t f = MR * kQ8Span + MR * kQ8Span / 2 + qb * cp + 2 * qb + gather + 64;
  return (f + 15) / 16 * 16;
}

// S rows for one chunk of NS vectors of keys: (q8 . k8) * rs[i] * ks[key],
// rs = the row's scale times the softmax scale, ks the keys' scales. The
// rows' running maxima take the chunk's values while they are in registers
// (the caller masks a partial chunk's tail itself).
template <class Q, int MR, int NS>
static inline void q8_qk_chunk(const typename Q::KE* const* qrow, size_t dhg,
                               const typename Q::KE* kt, const float* ks, float* const* srow,
                               const float* rs, typename Q::V* rmax) {
  using A = typename Q::A;
  A acc[MR][NS];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int v = 0; v < NS; ++v) acc[i][v] = Q::izero();
  for (size_t dg = 0; dg < dhg; ++dg) {
    typename Q::PK b[NS];
#pragma GCC unroll 8
    for (int v = 0; v < NS; ++v) b[v] = Q::pload_k(kt + (dg * kQ8KT + v * Q::kW) * Q::kKG);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const typename Q::PK a = Q::pbcast_q(qrow[i] + Q::kKG * dg);
#pragma GCC unroll 8
      for (int v = 0; v < NS; ++v) acc[i][v] = Q::madd_qk(acc[i][v], a, b[v]);
    }
  }
  typename Q::V ksv[NS];
#pragma GCC unroll 8
  for (int v = 0; v < NS; ++v) ksv[v] = Q::load(ks + v * Q::kW);
#pragma GCC unroll 16
  for (int i = MR - 1; i >= 0; --i) {
    const typename Q::V s = Q::set1(rs[i]);
#pragma GCC unroll 8
    for (int v = 0; v < NS; ++v) {
      const typename Q::V x = Q::mul(Q::mul(Q::to_float(acc[i][v]), s), ksv[v]);
      Q::store(srow[i] + v * Q::kW, x);
      rmax[i] = Q::max(rmax[i], x);
    }
  }
}

// O[:, c0 : c0 + NV * kW] = alpha * O + (p16 . v8) * s_v for one channel chunk.
template <class Q, int MR, int NV>
static inline void q8_pv_chunk(float* const* orow, const int16_t* const* prow,
                               const float* alpha, const int16_t* vt, size_t cp,
                               const float* vs, size_t kgroups) {
  using A = typename Q::A;
  using V = typename Q::V;
  A acc[MR][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) acc[i][v] = Q::izero();
  size_t jg = 0;
  if constexpr (Q::kPLanes > 1) {
    // P of kPLanes keys per row in one register, multiplied by lane: no
    // per-key scalar load and broadcast of P (NEON smlal by element).
    for (; jg + Q::kPLanes <= kgroups; jg += Q::kPLanes) {
      typename Q::PL pl[MR];
#pragma GCC unroll 16
      for (int i = 0; i < MR; ++i) pl[i] = Q::pload_lanes(prow[i] + jg);
      Q::template madd_pv_lanes<MR, NV>(acc, pl, vt + jg * cp, cp);
    }
  }
  for (; jg < kgroups; ++jg) {
    typename Q::PV b[NV];
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) b[v] = Q::pload_v(vt + (jg * cp + v * Q::kW) * Q::kVG);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const typename Q::PP a = Q::pbcast_p(prow[i] + Q::kVG * jg);
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) acc[i][v] = Q::madd_pv(acc[i][v], a, b[v]);
    }
  }
  // All loads before any store: rows past the valid ones alias the last
  // valid row and must not accumulate into it twice.
  V res[MR][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
    const V a = Q::set1(alpha[i]);
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) {
      const V o = Q::mul(Q::load(orow[i] + v * Q::kW), a);
      res[i][v] = Q::fmadd(Q::to_float(acc[i][v]), Q::load(vs + v * Q::kW), o);
    }
  }
#pragma GCC unroll 16
  for (int i = MR - 1; i >= 0; --i)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) Q::store(orow[i] + v * Q::kW, res[i][v]);
}

// Where the keys of one exact tile come from: the packed head's tile t, or a
// gathered copy of up to 128 keys (cluster plans) in the same layout.
template <class Q>
struct Q8KeyTile {
  const typename Q::KE* k;
  const int16_t* v;
  const float* ks;
  size_t kn;
};

template <class Q, int MR, int NS, int NV>
static void qs8_attention_tile(const F32AttentionParams& p, const Qs8AttentionHead& head,
                               size_t b, size_t h, size_t q0, size_t qn, float* scratch) {
  using V = typename Q::V;
  using KE = typename Q::KE;
  constexpr size_t KT = kQ8KT;
  constexpr size_t kSW = NS * Q::kW;  // keys per S chunk
  constexpr size_t kCW = NV * Q::kW;  // channels per P.V chunk
  static_assert(KT % kSW == 0, "key tile must be a multiple of the S chunk");
  static_assert(16 % kCW == 0, "channel padding must be a multiple of the P.V chunk");
  const size_t dh = p.head_dim, dhg = q8_dhg<Q>(dh), cp = q8_cp(dh);
  const size_t bh = b * p.heads + h;
  float* sbuf = scratch;
  constexpr size_t ST = kQ8Span;  // S and P row stride
  int16_t* pbuf = reinterpret_cast<int16_t*>(sbuf + MR * ST);
  float* obuf = sbuf + MR * ST + MR * ST / 2;
  float* mrow = obuf + qn * cp;
  float* lrow = mrow + qn;
  // Gather space (64-byte aligned pieces).
  uint8_t* gbase = reinterpret_cast<uint8_t*>(lrow + qn);
  gbase += (64 - reinterpret_cast<uintptr_t>(gbase) % 64) % 64;
  // Centroid pass: the logit bias (ln n) of each gathered centroid; a zero
  // value row (the partner of a lone key in a V pair).
  float* cbias = reinterpret_cast<float*>(gbase);
  int16_t* zrow = reinterpret_cast<int16_t*>(cbias + ST);
  gbase = reinterpret_cast<uint8_t*>(zrow + cp);
  gbase += (64 - reinterpret_cast<uintptr_t>(gbase) % 64) % 64;
  KE* gk = reinterpret_cast<KE*>(gbase);
  int16_t* gv = reinterpret_cast<int16_t*>(gbase + q8_align64(dhg * Q::kKG * ST * sizeof(KE)));
  float* gks = reinterpret_cast<float*>(reinterpret_cast<uint8_t*>(gv) + q8_align64(ST * cp * sizeof(int16_t)));

  std::memset(obuf, 0, qn * cp * sizeof(float));
  for (size_t i = 0; i < qn; ++i) {
    mrow[i] = -FLT_MAX;
    lrow[i] = 0.f;
  }
  // Cluster plans gather rows: row i of this block is token q_perm[q0 + i].
  const bool clustered = p.q_perm != nullptr;
  const uint32_t* qtok = clustered ? p.q_perm + bh * p.nq + q0 : nullptr;
  auto qtoken = [&](size_t i) -> size_t { return clustered ? qtok[i] : q0 + i; };
  const KE* const hq = static_cast<const KE*>(head.q);
  const KE* const hk = static_cast<const KE*>(head.k);

  // The online softmax of row ri over `kn` scores in `row` (tail masked),
  // whose maximum lanes are in mx: p16 into prw, running max and sum
  // updated; returns alpha.
  auto softmax_row = [&](size_t ri, float* row, int16_t* prw, size_t kn, size_t kgroups, V mx) -> float {
    const size_t kvec = (kn + Q::kW - 1) / Q::kW;
    const size_t kfull = kn / Q::kW;  // full vectors load plainly; only the tail is masked
    const float m_old = mrow[ri];
    const float tmax = Q::reduce_max(mx);
    const float m_new = tmax > m_old ? tmax : m_old;
    const float a = std::exp2(m_old - m_new);  // 0 on the first tile
    const V mv = Q::set1(m_new);
    const V k32767 = Q::set1(32767.f), half = Q::set1(0.5f);
    auto score = [&](size_t v) -> V {
      if (v < kfull) return Q::load(row + v * Q::kW);
      if (v < kvec) return Q::load_n_fill(row + v * Q::kW, static_cast<int>(kn - v * Q::kW), -FLT_MAX);
      return Q::set1(-FLT_MAX);  // past the last vector of a pair: weight 0
    };
    // Two vectors a step: P packed and stored in one go, its sum kept in
    // integers (at most 128 * 32767: exact, also once converted to float).
    typename Q::A isum = Q::izero();
    for (size_t v = 0; v < kvec; v += 2) {
      const V e0 = vecmath::Exp2Fast<Q>(Q::sub(score(v), mv));
      const V e1 = vecmath::Exp2Fast<Q>(Q::sub(score(v + 1), mv));
      isum = Q::iadd(isum, Q::store_p16x2(prw + v * Q::kW, Q::fmadd(e0, k32767, half), Q::fmadd(e1, k32767, half)));
    }
    // Partial key group at the tail: its missing partners weigh 0.
    for (size_t j = (kvec + 1) / 2 * 2 * Q::kW; j < kgroups * Q::kVG; ++j) prw[j] = 0;
    lrow[ri] = lrow[ri] * a + static_cast<float>(Q::ireduce(isum));
    mrow[ri] = m_new;
    return a;
  };

  // One span of up to two tiles (kn keys; K tiles dhg * 64 groups apart, V
  // and scales contiguous) through QK, the online softmax and P.V for every
  // row; `bias` (centroid tiles: ln n per key) is added to the logits when set.
  auto run_tile = [&](const Q8KeyTile<Q>& kt, const float* bias) {
    const size_t kn = kt.kn;
    const size_t s_chunks = (kn + kSW - 1) / kSW;
    const size_t kgroups = (kn + Q::kVG - 1) / Q::kVG;
    for (size_t r0 = 0; r0 < qn; r0 += MR) {
      const size_t mr = qn - r0 < static_cast<size_t>(MR) ? qn - r0 : MR;
      const KE* qrow[MR];
      float* srow[MR];
      const int16_t* prow[MR];
      float* orow[MR];
      float rs[MR], alpha[MR];
      for (int i = 0; i < MR; ++i) {
        // Rows past mr alias the last valid one (same inputs, same values).
        const size_t r = static_cast<size_t>(i) < mr ? i : mr - 1;
        const size_t qi = qtoken(r0 + r);
        qrow[i] = hq + qi * dhg * Q::kKG;
        srow[i] = sbuf + r * ST;
        prow[i] = pbuf + r * ST;
        orow[i] = obuf + (r0 + r) * cp;
        const float qs = head.qs[qi];
        // Logits in log2 units: the softmax runs on 2^x.
        rs[i] = qs == qs ? qs * p.scale * vecmath::kLog2e : 0.f;  // NaN rows are overwritten at the end
      }
      V mx[MR];
      for (int i = 0; i < MR; ++i) mx[i] = Q::set1(-FLT_MAX);
      const size_t full_chunks = bias != nullptr ? 0 : kn / kSW;
      for (size_t c = 0; c < s_chunks; ++c) {
        float* sc[MR];
        for (int i = 0; i < MR; ++i) sc[i] = srow[i] + c * kSW;
        const size_t k0 = c * kSW;
        const KE* kc = kt.k + (k0 / KT) * dhg * KT * Q::kKG + (k0 % KT) * Q::kKG;
        if (c < full_chunks) {
          q8_qk_chunk<Q, MR, NS>(qrow, dhg, kc, kt.ks + k0, sc, rs, mx);
          continue;
        }
        // A partial chunk, or centroids (their bias comes first): the
        // maxima from the stored values, the tail masked.
        V unused[MR];
        q8_qk_chunk<Q, MR, NS>(qrow, dhg, kc, kt.ks + k0, sc, rs, unused);
        for (size_t i = 0; i < mr; ++i) {
          for (size_t v = 0; v < static_cast<size_t>(NS); ++v) {
            const size_t j = k0 + v * Q::kW;
            if (j >= kn) break;
            V x = Q::load(srow[i] + j);
            if (bias != nullptr) {
              x = Q::add(x, Q::load(bias + j));  // Valid rows only: rows past mr alias row mr - 1.
              Q::store(srow[i] + j, x);
            }
            if (kn - j < static_cast<size_t>(Q::kW)) x = Q::load_n_fill(srow[i] + j, static_cast<int>(kn - j), -FLT_MAX);
            mx[i] = Q::max(mx[i], x);
          }
        }
      }
      for (size_t i = 0; i < mr; ++i) alpha[i] = softmax_row(r0 + i, sbuf + i * ST, pbuf + i * ST, kn, kgroups, mx[i]);
      for (size_t i = mr; i < static_cast<size_t>(MR); ++i) alpha[i] = alpha[mr - 1];
      for (size_t c0 = 0; c0 < dh; c0 += kCW) {
        float* oc[MR];
        for (int i = 0; i < MR; ++i) oc[i] = orow[i] + c0;
        q8_pv_chunk<Q, MR, NV>(oc, prow, alpha, kt.v + c0 * Q::kVG, cp, head.vs + c0, kgroups);
      }
    }
  };

  // Copies key `j` of the head (packed key-major: cluster plans) into slot n
  // of the gather tile. V goes in whole key groups: with pairs, the even
  // slot's row waits in vpend for its partner (flush_v writes a lone one).
  const int16_t* vpend = nullptr;
  auto flush_v = [&](size_t n) {
    if constexpr (Q::kVG == 2) {
      if (vpend != nullptr) Q::interleave_pair(gv + (n / 2) * cp * 2, vpend, zrow, cp);
      vpend = nullptr;
    }
  };
  // Slot n's K lies in the gathered span's tile n / 64, as in the packed head.
  auto gk_slot = [&](size_t n) { return gk + (n / KT) * dhg * KT * Q::kKG + (n % KT) * Q::kKG; };
  // K of the gathered keys gidx[0, n) into their slots (a transpose of the
  // key-major rows): eight keys at a time where the ISA has it.
  uint32_t gidx[kQ8Span];
  auto copy_k = [&](size_t j, size_t n) {  // one key
    const KE* src = hk + j * dhg * Q::kKG;
    KE* dst = gk_slot(n);
    for (size_t dg = 0; dg < dhg; ++dg) std::memcpy(dst + dg * KT * Q::kKG, src + dg * Q::kKG, Q::kKG * sizeof(KE));
  };
  auto gather_k = [&](size_t n) {
    size_t n0 = 0;
    if constexpr (Q::kTransposeK8) {
      for (; n0 + 8 <= n; n0 += 8) {
        const KE* src[8];
        for (int i = 0; i < 8; ++i) src[i] = hk + gidx[n0 + i] * dhg * Q::kKG;
        Q::transpose_k8(gk_slot(n0), KT * Q::kKG, src, dhg);
      }
    }
    for (size_t i = n0; i < n && i < kQ8Span; ++i) copy_k(gidx[i], i);
  };
  auto gather_key = [&](size_t j, size_t n) {
    gidx[n] = static_cast<uint32_t>(j);  // K: gather_k, once the span is full
    const int16_t* vrow = head.v + j * cp;
    if constexpr (Q::kVG == 1) {
      std::memcpy(gv + n * cp, vrow, cp * sizeof(int16_t));
    } else {
      static_assert(Q::kVG == 2, "V key groups of 1 or 2");
      if (n % 2 == 0) {
        vpend = vrow;
      } else {
        Q::interleave_pair(gv + (n / 2) * cp * 2, vpend, vrow, cp);
        vpend = nullptr;
      }
    }
    gks[n] = head.ks[j];
  };
  // Centroid (mean key kc, mean value vc) into slot n of the gather tile:
  // the key smoothed like the exact ones (K mean subtracted: the softmax is
  // invariant only to a shift shared by every logit) and quantized with a
  // scale of its own, the value with the head's per-channel scales.
  float vinv[kQs8AttnMaxHeadDim];
  for (size_t d = 0; d < dh; ++d) vinv[d] = head.vs[d] > 0.f ? 1.f / head.vs[d] : 0.f;
  auto gather_centroid = [&](const float* kc, const float* vc, size_t n) {
    int16_t row[kQs8AttnMaxHeadDim + 4];
    V z = Q::zero();
    const float amax = q8_absmax<Q>(kc, head.km, dh, &z);
    for (size_t d = 0; d < dhg * Q::kKG; ++d) row[d] = 0;
    if (amax > 0.f) q8_quant_row<Q>(row, kc, head.km, 127.f / amax, nullptr, dh);
    KE* dst = gk_slot(n);
    for (size_t dg = 0; dg < dhg; ++dg)
      for (size_t e = 0; e < Q::kKG; ++e) dst[dg * KT * Q::kKG + e] = static_cast<KE>(row[dg * Q::kKG + e]);
    gks[n] = amax / 127.f;
    q8_quant_row<Q>(row, vc, nullptr, 0.f, vinv, dh);
    int16_t* vd = gv + (n / Q::kVG) * cp * Q::kVG + n % Q::kVG;
    for (size_t d = 0; d < dh; ++d) vd[d * Q::kVG] = row[d];
  };
  auto run_gathered = [&](size_t n, const float* bias) {
    if (bias == nullptr) gather_k(n);  // exact keys (centroids write their K directly)
    for (size_t j = n; j < (n + kSW - 1) / kSW * kSW; ++j) gks[j] = 0.f;  // unused S lanes
    // Unused K slots up to the chunk hold stale keys: their P is 0 and their
    // scale 0, so they add nothing. A lone key's partner in V is zero.
    flush_v(n);
    run_tile(Q8KeyTile<Q>{gk, gv, gks, n}, bias);
  };

  const AttentionKeepRow kr = attention_keep_row(p, bh, q0);
  const uint8_t* keep = kr.keep;
  const size_t groups = kr.groups;

  if (clustered || (keep != nullptr && p.comp_k != nullptr)) {
    // Slots past a partial gathered tile's last key keep earlier keys (weight
    // 0); zero once so that they never hold garbage.
    std::memset(gk, 0, dhg * Q::kKG * ST * sizeof(KE));
    std::memset(gv, 0, ST * cp * sizeof(int16_t));
    std::memset(zrow, 0, cp * sizeof(int16_t));
  }
  if (clustered) {
    // Exact part: members of the kept key clusters, gathered into full spans of 128.
    const uint32_t* kperm = p.k_perm + bh * p.nk;
    const uint32_t* koff = p.k_off + bh * (p.kclusters + 1);
    size_t n = 0;
    for (size_t c = 0; c < p.kclusters; ++c) {
      if (keep[c] == 0) continue;
      for (uint32_t r = koff[c]; r < koff[c + 1]; ++r) {
        gather_key(kperm[r], n);
        if (++n == ST) {
          run_gathered(n, nullptr);
          n = 0;
        }
      }
    }
    if (n > 0) run_gathered(n, nullptr);
  } else {
    // Kept tiles two at a time where two neighbours are kept (their K, V and
    // scales lie back to back in the packed head).
    const size_t tiles = (p.nk + KT - 1) / KT;
    for (size_t t = 0; t < tiles; ++t) {
      if (keep != nullptr && keep[t] == 0) continue;
      const bool pair = t + 1 < tiles && (keep == nullptr || keep[t + 1] != 0);
      const size_t k0 = t * KT, span = pair ? 2 * KT : KT;
      const size_t kn = p.nk - k0 < span ? p.nk - k0 : span;
      run_tile(Q8KeyTile<Q>{hk + t * dhg * KT * Q::kKG, head.v + k0 * cp, head.ks + k0, kn}, nullptr);
      if (pair) ++t;
    }
  }

  if (keep != nullptr && p.comp_k != nullptr) {
    // Skipped groups through their centroids (mean key, mean value, ln n) on
    // the same INT8 tile as the exact keys, up to 128 a pass.
    const float* ck = p.comp_k + bh * groups * dh;
    const float* cv = p.comp_v + bh * groups * dh;
    const float* cl = p.comp_logn + bh * groups;
    size_t n = 0;
    for (size_t g = 0; g < groups; ++g) {
      if (keep[g] != 0) continue;
      gather_centroid(ck + g * dh, cv + g * dh, n);
      cbias[n] = cl[g] * vecmath::kLog2e;  // log2 units, as the logits
      if (++n == ST) {
        run_gathered(n, cbias);
        n = 0;
      }
    }
    if (n > 0) run_gathered(n, cbias);
  }

  float* ohead = p.out + b * p.o_bs + h * p.o_hs;
  for (size_t i = 0; i < qn; ++i) {
    const size_t qi = qtoken(i);
    float* dst = ohead + qi * p.o_ts;
    const float qs = head.qs[qi];
    if (head.bad || qs != qs) {
      for (size_t d = 0; d < dh; ++d) dst[d] = NAN;
      continue;
    }
    const V inv = Q::set1(lrow[i] > 0.f ? 1.f / lrow[i] : 0.f);
    const float* orw = obuf + i * cp;
    size_t d = 0;
    for (; d + Q::kW <= dh; d += Q::kW) Q::store(dst + d, Q::mul(Q::load(orw + d), inv));
    if (d < dh) Q::store_n(dst + d, Q::mul(Q::load(orw + d), inv), static_cast<int>(dh - d));
  }
}

}  // namespace
}  // namespace edge
