// Elementwise unary functions on F32 arrays: GELU (erf and tanh forms),
// SiLU and the UnaryKind set. y may equal x (in place).
#pragma once

#include <cstddef>

#include <pthreadpool.h>

#include "ops/isa.h"

namespace edge {

enum class F32Unary : int {
  kGelu = 0,      // x * Phi(x), exact erf form
  kGeluTanh,      // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
  kSilu,          // x * sigmoid(x)
  kSigmoid,
  kTanh,
  kExp,
  kNeg,
  kSqrt,
  kRsqrt,         // 1 / sqrt(x), correctly rounded sqrt then division
  kAbs,
  kErf,
  kReciprocal,
  kCount
};

const char* F32UnaryName(F32Unary kind);  // "gelu", "silu", ...

typedef void (*f32_vunary_fn)(F32Unary kind, size_t n, const float* x, float* y,
                              pthreadpool_t pool);

// Reference: each element in double precision, rounded once.
void f32_vunary_ref(F32Unary kind, size_t n, const float* x, float* y, pthreadpool_t pool);
#if EDGE_ARCH_X86_64
void f32_vunary__avx2(F32Unary kind, size_t n, const float* x, float* y, pthreadpool_t pool);
void f32_vunary__avx512(F32Unary kind, size_t n, const float* x, float* y, pthreadpool_t pool);
#endif
#if EDGE_ARCH_ARM
void f32_vunary__neon(F32Unary kind, size_t n, const float* x, float* y, pthreadpool_t pool);
#endif

// The functions of the vector-math library (ops/vec_math.h) one by one over
// an array, y = fn(x), with one ISA's instantiation: the entry of its
// accuracy test (tests/unit/vec_math_accuracy_test.cc).
enum class VecMathFn : int { kExp = 0, kExpFast, kErf, kTanh, kSigmoid, kSilu, kGelu, kGeluTanh, kCount };
typedef void (*f32_vmath_fn)(VecMathFn fn, size_t n, const float* x, float* y);
void f32_vmath__scalar(VecMathFn fn, size_t n, const float* x, float* y);
#if EDGE_ARCH_X86_64
void f32_vmath__avx2(VecMathFn fn, size_t n, const float* x, float* y);
void f32_vmath__avx512(VecMathFn fn, size_t n, const float* x, float* y);
#endif
#if EDGE_ARCH_ARM
void f32_vmath__neon(VecMathFn fn, size_t n, const float* x, float* y);
#endif
#if EDGE_ARCH_ARM32
// AArch32's NEON arithmetic always flushes subnormal inputs, results and
// intermediates to zero (FPSCR.FZ does not apply to it). The far tails of
// exp, sigmoid, SiLU and the GELUs pass through a subnormal e^x or Phi(x),
// so f32_vmath__neon and f32_vunary__neon give zero where the exact result
// is below this magnitude (docs/vec_math.md).
constexpr float kArm32NeonFlushBelow = 1e-35f;
#endif

}  // namespace edge
