// AVX-512 (F/BW/VL/DQ) vector type for the templated kernels (ops/*_simd.h)
// and the vector math in ops/vec_math_impl.h. Include only from *__avx512.cc
// files; lives in namespace edge::avx512 (see vec_math_avx2.h for why).
#pragma once

#include <immintrin.h>

// GCC 12 reports the _mm512_undefined_ps() pass-through inside its own
// unmasked intrinsics (sqrt, min, max, scalef...) as maybe-uninitialized; a
// known false positive. Only AVX-512 translation units include this header.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <cstddef>
#include <cstdint>

namespace edge {
namespace avx512 {

struct V {
  using T = __m512;
  using M = __mmask16;
  static constexpr int N = 16;

  static T zero() { return _mm512_setzero_ps(); }
  static T set1(float v) { return _mm512_set1_ps(v); }
  static T load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, T v) { _mm512_storeu_ps(p, v); }
  static __mmask16 tail_mask(size_t n) { return static_cast<__mmask16>((1u << n) - 1u); }
  static T load_tail(const float* p, size_t n) { return _mm512_maskz_loadu_ps(tail_mask(n), p); }
  static T load_tail_fill(const float* p, size_t n, float fill) {
    return _mm512_mask_loadu_ps(_mm512_set1_ps(fill), tail_mask(n), p);
  }
  static void store_tail(float* p, T v, size_t n) { _mm512_mask_storeu_ps(p, tail_mask(n), v); }

  static T add(T a, T b) { return _mm512_add_ps(a, b); }
  static T sub(T a, T b) { return _mm512_sub_ps(a, b); }
  static T mul(T a, T b) { return _mm512_mul_ps(a, b); }
  static T div(T a, T b) { return _mm512_div_ps(a, b); }
  static T fma(T a, T b, T c) { return _mm512_fmadd_ps(a, b, c); }
  static T fnma(T a, T b, T c) { return _mm512_fnmadd_ps(a, b, c); }
  static T fms(T a, T b, T c) { return _mm512_fmsub_ps(a, b, c); }
  static T min(T a, T b) { return _mm512_min_ps(a, b); }
  static T max(T a, T b) { return _mm512_max_ps(a, b); }
  static T sqrt(T a) { return _mm512_sqrt_ps(a); }
  static T abs(T a) { return _mm512_abs_ps(a); }
  static T neg(T a) { return _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(a), _mm512_set1_epi32(INT32_MIN))); }
  static T sign_bit(T a) { return _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(a), _mm512_set1_epi32(INT32_MIN))); }
  static T xor_(T a, T b) { return _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(a), _mm512_castps_si512(b))); }
  static T round(T a) { return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static M lt(T a, T b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
  static M ge(T a, T b) { return _mm512_cmp_ps_mask(a, b, _CMP_GE_OQ); }
  static T select(M m, T if_true, T if_false) { return _mm512_mask_blend_ps(m, if_false, if_true); }

  // p * 2^n; vscalefps handles the exponent range (and underflow) exactly.
  static T scale_pow2(T p, T n) { return _mm512_scalef_ps(p, n); }

  static float hsum(T v) { return _mm512_reduce_add_ps(v); }
  static float hmax(T v) { return _mm512_reduce_max_ps(v); }
};

}  // namespace avx512
}  // namespace edge

#include "ops/vec_math_impl.h"
