// AVX2+FMA vector type for the templated kernels (ops/*_simd.h) and the
// vector math in ops/vec_math_impl.h. Include only from *__avx2.cc files:
// everything here needs -mavx2 -mfma, and lives in namespace edge::avx2 so
// that it never clashes with the AVX-512 instantiations at link time.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

namespace edge {
namespace avx2 {

struct V {
  using T = __m256;
  using M = __m256;  // lane mask (all-ones / all-zeros per lane)
  static constexpr int N = 8;

  static T zero() { return _mm256_setzero_ps(); }
  static T set1(float v) { return _mm256_set1_ps(v); }
  static T load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, T v) { _mm256_storeu_ps(p, v); }
  static __m256i tail_mask(size_t n) {  // first n (< 8) lanes on
    alignas(32) static const int32_t kTable[16] = {-1, -1, -1, -1, -1, -1, -1, -1,
                                                   0,  0,  0,  0,  0,  0,  0,  0};
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kTable + 8 - n));
  }
  // Loads the first n lanes; the others read as zero (no memory touched).
  static T load_tail(const float* p, size_t n) { return _mm256_maskload_ps(p, tail_mask(n)); }
  // Loads the first n lanes; the others read as `fill`.
  static T load_tail_fill(const float* p, size_t n, float fill) {
    const __m256i m = tail_mask(n);
    return _mm256_blendv_ps(_mm256_set1_ps(fill), _mm256_maskload_ps(p, m), _mm256_castsi256_ps(m));
  }
  static void store_tail(float* p, T v, size_t n) { _mm256_maskstore_ps(p, tail_mask(n), v); }

  static T add(T a, T b) { return _mm256_add_ps(a, b); }
  static T sub(T a, T b) { return _mm256_sub_ps(a, b); }
  static T mul(T a, T b) { return _mm256_mul_ps(a, b); }
  static T div(T a, T b) { return _mm256_div_ps(a, b); }
  static T fma(T a, T b, T c) { return _mm256_fmadd_ps(a, b, c); }    // a*b + c
  static T fnma(T a, T b, T c) { return _mm256_fnmadd_ps(a, b, c); }  // c - a*b
  static T fms(T a, T b, T c) { return _mm256_fmsub_ps(a, b, c); }    // a*b - c
  // min/max return the second operand when either is NaN (x86 rule):
  // pass the data second to keep NaNs.
  static T min(T a, T b) { return _mm256_min_ps(a, b); }
  static T max(T a, T b) { return _mm256_max_ps(a, b); }
  static T sqrt(T a) { return _mm256_sqrt_ps(a); }
  static T abs(T a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a); }
  static T neg(T a) { return _mm256_xor_ps(_mm256_set1_ps(-0.0f), a); }
  static T sign_bit(T a) { return _mm256_and_ps(_mm256_set1_ps(-0.0f), a); }
  static T xor_(T a, T b) { return _mm256_xor_ps(a, b); }
  static T round(T a) { return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static M lt(T a, T b) { return _mm256_cmp_ps(a, b, _CMP_LT_OQ); }
  static M ge(T a, T b) { return _mm256_cmp_ps(a, b, _CMP_GE_OQ); }
  static T select(M m, T if_true, T if_false) { return _mm256_blendv_ps(if_false, if_true, m); }

  // p * 2^n for integral n in [-152, 130]: two steps so that each factor is
  // a normal float (2^n alone overflows the exponent field at the ends).
  static T scale_pow2(T p, T n) {
    const __m256i ni = _mm256_cvtps_epi32(n);
    const __m256i n1 = _mm256_srai_epi32(ni, 1);
    const __m256i n2 = _mm256_sub_epi32(ni, n1);
    const __m256i bias = _mm256_set1_epi32(127);
    const T s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
    const T s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
    return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
  }

  static float hsum(T v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  static float hmax(T v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
};

}  // namespace avx2
}  // namespace edge

#include "ops/vec_math_impl.h"
