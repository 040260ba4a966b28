// The SIMD layer of every F32 kernel family: one struct per ISA (VecScalar,
// VecAvx2, VecAvx512, VecNeon for AArch64 and AArch32) so that the GEMM
// microkernel and its epilogue, the attention tiles (FP32 and INT8), the
// elementwise / norm / softmax kernels (ops/*_simd.h), the activation
// quantizer of the quantized GEMMs (ops/qs8_act_quantize_simd.h) and the
// vector-math library on top of it (ops/vec_math.h, included at the end of
// this file) are written once as templates and instantiated per ISA file. Everything lives in
// an anonymous namespace: each *__isa.cc file gets its own copy compiled with
// its own flags, and no symbol compiled for AVX-512 can be picked by the
// linker for a scalar caller. For the same reason these templates call no
// std:: templates.
//
// Vocabulary notes.
//   * fmadd(a, b, c) is a*b + c, fused where the ISA has FMA (the GEMM and
//     attention inner loops); fma / fnma / fms are always fused, rounded once
//     (the vector math needs the exact product; VecScalar uses std::fma).
//   * min / max return the second operand when either is NaN (the x86 rule;
//     the NEON and scalar versions are written to match): pass the data
//     second to keep NaNs, first to clamp them away. The vector math keeps
//     them: NaN in, NaN out (ops/vec_math.h).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif
// VecNeon needs fused multiply-add (the vector math's exact products): always
// there on AArch64; on AArch32 only with VFPv4 (-mfpu=neon-vfpv4, the F32
// ops/*__neon.cc files). AArch32 files built with plain -mfpu=neon (the
// quantized GEMMs) see no VecNeon.
#if defined(__ARM_NEON) && (defined(__aarch64__) || defined(__ARM_FEATURE_FMA))
#define EDGE_VEC_NEON 1
#include <arm_neon.h>
#else
#define EDGE_VEC_NEON 0
#endif

#if defined(__AVX512F__) && defined(__GNUC__) && !defined(__clang__)
// GCC 12's avx512fintrin.h seeds results with `__m512 __Y = __Y;`, which
// -Wmaybe-uninitialized reports at every inlined use: a known false positive.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace edge {
namespace {

// The elementwise kernels' names for the tail and reduction operations
// (ops/*_simd.h, ops/vec_math.h), shared by every ISA struct below.
template <class D>
struct VecTailNames {
  static auto load_tail(const float* p, size_t n) { return D::load_n(p, static_cast<int>(n)); }
  static auto load_tail_fill(const float* p, size_t n, float fill) {
    return D::load_n_fill(p, static_cast<int>(n), fill);
  }
  template <class X>
  static void store_tail(float* p, X v, size_t n) { D::store_n(p, v, static_cast<int>(n)); }
  template <class X>
  static float hsum(X v) { return D::reduce_add(v); }
  template <class X>
  static float hmax(X v) { return D::reduce_max(v); }
};

// Portable fallback: one lane. The compiler may still vectorize loops over it.
struct VecScalar : VecTailNames<VecScalar> {
  using V = float;
  static constexpr int kW = 1;
  static V zero() { return 0.f; }
  static V set1(float x) { return x; }
  static V load(const float* p) { return *p; }
  static V load_n(const float* p, int n) { return n > 0 ? *p : 0.f; }
  static V load_n_fill(const float* p, int n, float fill) { return n > 0 ? *p : fill; }
  static void store(float* p, V v) { *p = v; }
  static void store_n(float* p, V v, int n) {
    if (n > 0) *p = v;
  }
  static V add(V a, V b) { return a + b; }
  static V sub(V a, V b) { return a - b; }
  static V mul(V a, V b) { return a * b; }
  static V div(V a, V b) { return a / b; }
  static V fmadd(V a, V b, V c) { return a * b + c; }
  static V max(V a, V b) { return a > b ? a : b; }
  static V min(V a, V b) { return a < b ? a : b; }
  static V abs(V a) { return std::fabs(a); }
  static V copysign(V mag, V sgn) { return std::copysign(mag, sgn); }
  static float reduce_max(V v) { return v; }
  static float reduce_add(V v) { return v; }
  // Elementwise vocabulary (ops/vec_math.h, ops/*_simd.h).
  using T = V;
  static constexpr int N = kW;
  using M = bool;
  static V fma(V a, V b, V c) { return std::fma(a, b, c); }  // exact a*b + c: vecmath needs it
  static V fnma(V a, V b, V c) { return std::fma(-a, b, c); }
  static V fms(V a, V b, V c) { return std::fma(a, b, -c); }
  static V sqrt(V a) { return std::sqrt(a); }
  static V neg(V a) { return -a; }
  static V sign_bit(V a) { return std::copysign(0.f, a); }
  static V xor_(V a, V b) {
    uint32_t ua, ub;
    std::memcpy(&ua, &a, 4);
    std::memcpy(&ub, &b, 4);
    ua ^= ub;
    std::memcpy(&a, &ua, 4);
    return a;
  }
  static V round(V a) { return std::nearbyint(a); }
  static M lt(V a, V b) { return a < b; }
  static M ge(V a, V b) { return a >= b; }
  static V select(M m, V if_true, V if_false) { return m ? if_true : if_false; }
  static V scale_pow2(V p, V n) { return std::ldexp(p, static_cast<int>(n)); }
  // 2^n for integral n in [-126, 127]; a NaN n gives 1 (the caller's
  // product with its NaN keeps the NaN).
  static V pow2i(V n) { return std::ldexp(1.0f, n == n ? static_cast<int>(n) : 0); }
  // Integer lanes (the activation quantizer, ops/qs8_act_quantize_simd.h).
  using I32 = int32_t;
  static I32 zero_i32() { return 0; }
  static I32 add_i32(I32 a, I32 b) { return a + b; }
  // Nearest, ties to even; out of range and NaN give INT32_MIN, as x86's
  // cvtps2dq does, instead of an undefined cast.
  static I32 round_to_i32(V a) {
    const float r = std::nearbyint(a);
    return r >= -2147483648.0f && r < 2147483648.0f ? static_cast<int32_t>(r) : INT32_MIN;
  }
  static int32_t reduce_add_i32(I32 v) { return v; }
  // kW lanes to int8, saturated.
  static void store_i8_sat(int8_t* p, I32 v) { *p = static_cast<int8_t>(v < -128 ? -128 : v > 127 ? 127 : v); }
};

#if defined(__AVX512F__)
struct VecAvx512 : VecTailNames<VecAvx512> {
  using V = __m512;
  static constexpr int kW = 16;
  static __mmask16 mask(int n) {
    return n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (n > 0 ? n : 0)) - 1u);
  }
  static V zero() { return _mm512_setzero_ps(); }
  static V set1(float x) { return _mm512_set1_ps(x); }
  static V load(const float* p) { return _mm512_loadu_ps(p); }
  static V load_n(const float* p, int n) { return _mm512_maskz_loadu_ps(mask(n), p); }
  static V load_n_fill(const float* p, int n, float fill) {
    return _mm512_mask_loadu_ps(_mm512_set1_ps(fill), mask(n), p);
  }
  static void store(float* p, V v) { _mm512_storeu_ps(p, v); }
  static void store_n(float* p, V v, int n) { _mm512_mask_storeu_ps(p, mask(n), v); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static V sub(V a, V b) { return _mm512_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static V div(V a, V b) { return _mm512_div_ps(a, b); }
  static V fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V max(V a, V b) { return _mm512_max_ps(a, b); }
  static V min(V a, V b) { return _mm512_min_ps(a, b); }
  static V abs(V a) {
    return _mm512_castsi512_ps(
        _mm512_and_si512(_mm512_castps_si512(a), _mm512_set1_epi32(0x7FFFFFFF)));
  }
  static V copysign(V mag, V sgn) {
    const __m512i s = _mm512_and_si512(_mm512_castps_si512(sgn), _mm512_set1_epi32(INT32_MIN));
    return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(abs(mag)), s));
  }
  static float reduce_max(V v) { return _mm512_reduce_max_ps(v); }
  static float reduce_add(V v) { return _mm512_reduce_add_ps(v); }
  // Elementwise vocabulary (ops/vec_math.h, ops/*_simd.h).
  using T = V;
  static constexpr int N = kW;
  using M = __mmask16;
  static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V fnma(V a, V b, V c) { return _mm512_fnmadd_ps(a, b, c); }
  static V fms(V a, V b, V c) { return _mm512_fmsub_ps(a, b, c); }
  static V sqrt(V a) { return _mm512_sqrt_ps(a); }
  static V neg(V a) {
    return _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(a), _mm512_set1_epi32(INT32_MIN)));
  }
  static V sign_bit(V a) {
    return _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(a), _mm512_set1_epi32(INT32_MIN)));
  }
  static V xor_(V a, V b) {
    return _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(a), _mm512_castps_si512(b)));
  }
  static V round(V a) { return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static M lt(V a, V b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
  static M ge(V a, V b) { return _mm512_cmp_ps_mask(a, b, _CMP_GE_OQ); }
  static V select(M m, V if_true, V if_false) { return _mm512_mask_blend_ps(m, if_false, if_true); }
  // p * 2^n; vscalefps handles the exponent range (and underflow) exactly.
  static V scale_pow2(V p, V n) { return _mm512_scalef_ps(p, n); }
  // 2^n for integral n in [-126, 127], built in the exponent field.
  static V pow2i(V n) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(
        _mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23));
  }
  // Integer lanes (the activation quantizer, ops/qs8_act_quantize_simd.h).
  using I32 = __m512i;
  static I32 zero_i32() { return _mm512_setzero_si512(); }
  static I32 add_i32(I32 a, I32 b) { return _mm512_add_epi32(a, b); }
  static I32 round_to_i32(V a) { return _mm512_cvtps_epi32(a); }  // MXCSR's mode: nearest even
  static int32_t reduce_add_i32(I32 v) { return _mm512_reduce_add_epi32(v); }
  static void store_i8_sat(int8_t* p, I32 v) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm512_cvtsepi32_epi8(v));
  }
};
#endif

#if defined(__AVX2__) && defined(__FMA__)
struct VecAvx2 : VecTailNames<VecAvx2> {
  using V = __m256;
  static constexpr int kW = 8;
  static __m256i mask(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static V zero() { return _mm256_setzero_ps(); }
  static V set1(float x) { return _mm256_set1_ps(x); }
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  // Full vectors (n >= 8) take plain loads and stores: on Zen 3 a masked
  // load costs several times a plain one and a masked store far more, and
  // callers pass whole rows through these in per-token loops.
  static V load_n(const float* p, int n) { return n >= kW ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, mask(n)); }
  static V load_n_fill(const float* p, int n, float fill) {
    if (n >= kW) return _mm256_loadu_ps(p);
    const __m256i m = mask(n);
    return _mm256_blendv_ps(_mm256_set1_ps(fill), _mm256_maskload_ps(p, m), _mm256_castsi256_ps(m));
  }
  static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  static void store_n(float* p, V v, int n) {
    if (n >= kW) {
      _mm256_storeu_ps(p, v);
    } else {
      _mm256_maskstore_ps(p, mask(n), v);
    }
  }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static V sub(V a, V b) { return _mm256_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static V div(V a, V b) { return _mm256_div_ps(a, b); }
  static V fmadd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V max(V a, V b) { return _mm256_max_ps(a, b); }
  static V min(V a, V b) { return _mm256_min_ps(a, b); }
  static V abs(V a) {
    return _mm256_and_ps(a, _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF)));
  }
  static V copysign(V mag, V sgn) {
    const V s = _mm256_and_ps(sgn, _mm256_castsi256_ps(_mm256_set1_epi32(INT32_MIN)));
    return _mm256_or_ps(abs(mag), s);
  }
  static float reduce_max(V v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
  }
  static float reduce_add(V v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  // Elementwise vocabulary (ops/vec_math.h, ops/*_simd.h).
  using T = V;
  static constexpr int N = kW;
  using M = __m256;  // lane mask (all-ones / all-zeros per lane)
  static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }    // a*b + c
  static V fnma(V a, V b, V c) { return _mm256_fnmadd_ps(a, b, c); }  // c - a*b
  static V fms(V a, V b, V c) { return _mm256_fmsub_ps(a, b, c); }    // a*b - c
  static V sqrt(V a) { return _mm256_sqrt_ps(a); }
  static V neg(V a) { return _mm256_xor_ps(_mm256_set1_ps(-0.0f), a); }
  static V sign_bit(V a) { return _mm256_and_ps(_mm256_set1_ps(-0.0f), a); }
  static V xor_(V a, V b) { return _mm256_xor_ps(a, b); }
  static V round(V a) { return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static M lt(V a, V b) { return _mm256_cmp_ps(a, b, _CMP_LT_OQ); }
  static M ge(V a, V b) { return _mm256_cmp_ps(a, b, _CMP_GE_OQ); }
  static V select(M m, V if_true, V if_false) { return _mm256_blendv_ps(if_false, if_true, m); }
  // p * 2^n for integral n in [-152, 130]: two steps so that each factor is
  // a normal float (2^n alone overflows the exponent field at the ends).
  static V scale_pow2(V p, V n) {
    const __m256i ni = _mm256_cvtps_epi32(n);
    const __m256i n1 = _mm256_srai_epi32(ni, 1);
    const __m256i n2 = _mm256_sub_epi32(ni, n1);
    const __m256i bias = _mm256_set1_epi32(127);
    const V s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
    const V s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
    return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
  }
  // 2^n for integral n in [-126, 127], built in the exponent field.
  static V pow2i(V n) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(
        _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23));
  }
  // Integer lanes (the activation quantizer, ops/qs8_act_quantize_simd.h).
  using I32 = __m256i;
  static I32 zero_i32() { return _mm256_setzero_si256(); }
  static I32 add_i32(I32 a, I32 b) { return _mm256_add_epi32(a, b); }
  static I32 round_to_i32(V a) { return _mm256_cvtps_epi32(a); }  // MXCSR's mode: nearest even
  static int32_t reduce_add_i32(I32 v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    return _mm_cvtsi128_si32(s);
  }
  static void store_i8_sat(int8_t* p, I32 v) {
    const __m128i w16 = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(p), _mm_packs_epi16(w16, w16));
  }
};
#endif

#if EDGE_VEC_NEON
#if !defined(__aarch64__)
// What AArch32 NEON lacks next to AArch64's, emulated so that one VecNeon
// serves both. Division and square root run lane by lane on the VFP unit
// (s0..s3 alias q0's lanes, so no moves between the units): correctly rounded
// like vdivq_f32 / vsqrtq_f32 and the scalar reference, which a reciprocal
// estimate with Newton steps is not (1-2 ulp, and wrong at 0, Inf and
// subnormal divisors without extra fix-ups). The operands are pinned to
// q0..q2 because only q0..q7 have single-precision halves.
struct NeonA32 {
  static float32x4_t div(float32x4_t a, float32x4_t b) {
    register float32x4_t x __asm__("q0") = a;
    register float32x4_t y __asm__("q1") = b;
    register float32x4_t q __asm__("q2");
    __asm__("vdiv.f32 s8, s0, s4\n\tvdiv.f32 s9, s1, s5\n\t"
            "vdiv.f32 s10, s2, s6\n\tvdiv.f32 s11, s3, s7"
            : "=w"(q) : "w"(x), "w"(y));
    return q;
  }
  static float32x4_t sqrt(float32x4_t a) {
    register float32x4_t x __asm__("q0") = a;
    register float32x4_t r __asm__("q1");
    __asm__("vsqrt.f32 s4, s0\n\tvsqrt.f32 s5, s1\n\tvsqrt.f32 s6, s2\n\tvsqrt.f32 s7, s3"
            : "=w"(r) : "w"(x));
    return r;
  }
  // Pairwise adds in AArch64's faddp order: (v0 + v1) + (v2 + v3).
  static float reduce_add(float32x4_t v) {
    const float32x2_t s = vpadd_f32(vget_low_f32(v), vget_high_f32(v));
    return vget_lane_f32(vpadd_f32(s, s), 0);
  }
  static float reduce_max(float32x4_t v) {
    const float32x2_t m = vpmax_f32(vget_low_f32(v), vget_high_f32(v));
    return vget_lane_f32(vpmax_f32(m, m), 0);
  }
  // Round to nearest even: adding and subtracting 2^23 (with a's sign) drops
  // the fraction in the current rounding mode; |a| >= 2^23 and NaN are
  // integral already and pass through.
  static float32x4_t round(float32x4_t a) {
    const float32x4_t magic = vbslq_f32(vdupq_n_u32(0x80000000u), a, vdupq_n_f32(8388608.0f));
    const float32x4_t r = vsubq_f32(vaddq_f32(a, magic), magic);
    return vbslq_f32(cgt(vdupq_n_f32(8388608.0f), vabsq_f32(a)), r, a);
  }
  // Integral n only (scale_pow2 / pow2i): truncation is then exact; NaN gives
  // 0 as vcvtnq_s32_f32 does.
  static int32x4_t to_int(float32x4_t n) { return vcvtq_s32_f32(n); }
  // GCC's AArch32 arm_neon.h writes the float compares and vnegq_f32 as
  // generic vector operators, which it then splits into four VFP operations
  // (NEON is not IEEE-exact on subnormals, so it only uses NEON for them under
  // -funsafe-math-optimizations). These say the NEON instruction itself.
  static uint32x4_t cgt(float32x4_t a, float32x4_t b) {
    uint32x4_t r;
    __asm__("vcgt.f32 %q0, %q1, %q2" : "=w"(r) : "w"(a), "w"(b));
    return r;
  }
  static uint32x4_t cge(float32x4_t a, float32x4_t b) {
    uint32x4_t r;
    __asm__("vcge.f32 %q0, %q1, %q2" : "=w"(r) : "w"(a), "w"(b));
    return r;
  }
  static float32x4_t neg(float32x4_t a) {
    return vreinterpretq_f32_u32(veorq_u32(vreinterpretq_u32_f32(a), vdupq_n_u32(0x80000000u)));
  }
};
#endif

// NEON: four lanes (the FP32 attention tile and the INT8 attention on
// AArch64; the elementwise, norm and softmax kernels on both ARM states).
struct VecNeon : VecTailNames<VecNeon> {
  using V = float32x4_t;
  static constexpr int kW = 4;
  static uint32x4_t mask(int n) {
    static const uint32_t kIdx[4] = {0, 1, 2, 3};
    return vcltq_u32(vld1q_u32(kIdx), vdupq_n_u32(static_cast<uint32_t>(n > 0 ? n : 0)));
  }
  static V zero() { return vdupq_n_f32(0.f); }
  static V set1(float x) { return vdupq_n_f32(x); }
  static V load(const float* p) { return vld1q_f32(p); }
  static V load_n(const float* p, int n) {
    if (n >= 4) return vld1q_f32(p);
    float t[4] = {0.f, 0.f, 0.f, 0.f};
    for (int i = 0; i < n; ++i) t[i] = p[i];
    return vld1q_f32(t);
  }
  static V load_n_fill(const float* p, int n, float fill) {
    if (n >= 4) return vld1q_f32(p);
    float t[4] = {fill, fill, fill, fill};
    for (int i = 0; i < n; ++i) t[i] = p[i];
    return vld1q_f32(t);
  }
  static void store(float* p, V v) { vst1q_f32(p, v); }
  static void store_n(float* p, V v, int n) {
    if (n >= 4) {
      vst1q_f32(p, v);
      return;
    }
    float t[4];
    vst1q_f32(t, v);
    for (int i = 0; i < n; ++i) p[i] = t[i];
  }
  static V add(V a, V b) { return vaddq_f32(a, b); }
  static V sub(V a, V b) { return vsubq_f32(a, b); }
  static V mul(V a, V b) { return vmulq_f32(a, b); }
#if defined(__aarch64__)
  static V div(V a, V b) { return vdivq_f32(a, b); }
#else
  static V div(V a, V b) { return NeonA32::div(a, b); }
#endif
  static V fmadd(V a, V b, V c) { return vfmaq_f32(c, a, b); }
#if defined(__aarch64__)
  static uint32x4_t cgt(V a, V b) { return vcgtq_f32(a, b); }
  static uint32x4_t cge(V a, V b) { return vcgeq_f32(a, b); }
  static V neg(V a) { return vnegq_f32(a); }
#else
  static uint32x4_t cgt(V a, V b) { return NeonA32::cgt(a, b); }
  static uint32x4_t cge(V a, V b) { return NeonA32::cge(a, b); }
  static V neg(V a) { return NeonA32::neg(a); }
#endif
  static V max(V a, V b) { return vbslq_f32(cgt(a, b), a, b); }  // a > b ? a : b
  static V min(V a, V b) { return vbslq_f32(cgt(b, a), a, b); }
  static V abs(V a) { return vabsq_f32(a); }
  static V copysign(V mag, V sgn) {
    return vbslq_f32(vdupq_n_u32(0x80000000u), sgn, vabsq_f32(mag));
  }
#if defined(__aarch64__)
  static float reduce_max(V v) { return vmaxvq_f32(v); }
  static float reduce_add(V v) { return vaddvq_f32(v); }
#else
  static float reduce_max(V v) { return NeonA32::reduce_max(v); }
  static float reduce_add(V v) { return NeonA32::reduce_add(v); }
#endif
  // Elementwise vocabulary (ops/vec_math.h, ops/*_simd.h).
  using T = V;
  static constexpr int N = kW;
  using M = uint32x4_t;
  static V fma(V a, V b, V c) { return vfmaq_f32(c, a, b); }
  static V fnma(V a, V b, V c) { return vfmsq_f32(c, a, b); }
  static V fms(V a, V b, V c) { return neg(vfmsq_f32(c, a, b)); }
#if defined(__aarch64__)
  static V sqrt(V a) { return vsqrtq_f32(a); }
  static V round(V a) { return vrndnq_f32(a); }
  static int32x4_t to_int(V n) { return vcvtnq_s32_f32(n); }
#else
  static V sqrt(V a) { return NeonA32::sqrt(a); }
  static V round(V a) { return NeonA32::round(a); }
  static int32x4_t to_int(V n) { return NeonA32::to_int(n); }
#endif
  static V sign_bit(V a) { return vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(a), vdupq_n_u32(0x80000000u))); }
  static V xor_(V a, V b) {
    return vreinterpretq_f32_u32(veorq_u32(vreinterpretq_u32_f32(a), vreinterpretq_u32_f32(b)));
  }
  static M lt(V a, V b) { return cgt(b, a); }
  static M ge(V a, V b) { return cge(a, b); }
  static V select(M m, V if_true, V if_false) { return vbslq_f32(m, if_true, if_false); }
  // p * 2^n in two normal factors, as VecAvx2::scale_pow2.
  static V scale_pow2(V p, V n) {
    const int32x4_t ni = to_int(n);
    const int32x4_t n1 = vshrq_n_s32(ni, 1);
    const int32x4_t n2 = vsubq_s32(ni, n1);
    const int32x4_t bias = vdupq_n_s32(127);
    const V s1 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n1, bias), 23));
    const V s2 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n2, bias), 23));
    return vmulq_f32(vmulq_f32(p, s1), s2);
  }
  // 2^n for integral n in [-126, 127], built in the exponent field.
  static V pow2i(V n) {
    return vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(to_int(n), vdupq_n_s32(127)), 23));
  }
  // Integer lanes (the activation quantizer, ops/qs8_act_quantize_simd.h).
  using I32 = int32x4_t;
  static I32 zero_i32() { return vdupq_n_s32(0); }
  static I32 add_i32(I32 a, I32 b) { return vaddq_s32(a, b); }
#if defined(__aarch64__)
  static I32 round_to_i32(V a) { return vcvtnq_s32_f32(a); }  // nearest even
  static int32_t reduce_add_i32(I32 v) { return vaddvq_s32(v); }
#else
  // AArch32 converts by truncation: round to nearest even first (exact then).
  static I32 round_to_i32(V a) { return vcvtq_s32_f32(NeonA32::round(a)); }
  static int32_t reduce_add_i32(I32 v) {
    const int32x2_t s = vpadd_s32(vget_low_s32(v), vget_high_s32(v));
    return vget_lane_s32(vpadd_s32(s, s), 0);
  }
#endif
  static void store_i8_sat(int8_t* p, I32 v) {
    const int16x4_t h = vqmovn_s32(v);
    const int32_t four = vget_lane_s32(vreinterpret_s32_s8(vqmovn_s16(vcombine_s16(h, h))), 0);
    std::memcpy(p, &four, 4);
  }
};
#endif

}  // namespace
}  // namespace edge

#include "ops/vec_math.h"
