// Elementwise unary functions on F32 arrays: GELU (erf and tanh forms),
// SiLU and the UnaryKind set. y may equal x (in place).
#pragma once

#include <cstddef>

#include <pthreadpool.h>

#include "ops/isa.h"

namespace edge {

// The unary functions, one row each: enumerator, name, the ONNX operator that
// computes the function alone ("" for the GELUs and SiLU, which edge-convert
// finds by fusion in fuse_act.cc, and for rsqrt, which it gets from Pow), and
// the reference formula of x in double precision (F32UnaryEval; f32_vunary_ref,
// the oracle of the vector kernels). edge-convert lowers an ONNX node to the
// Unary op, and folds it on constants, through its row (converter/onnx_unary.h).
// A function is added here and, in vector form, to VUnary
// (ops/f32_activation_simd.h). From kSigmoid on, the rows follow the schema's
// UnaryKind in its order: the Unary op maps one onto the other by position
// (runtime/op_traits.h).
#define EDGE_F32_UNARY(X)                                                                      \
  /* x * Phi(x), exact erf form */                                                            \
  X(kGelu, "gelu", "", 0.5 * x * std::erfc(-x * 0.70710678118654752440))                     \
  /* 0.5 x (1 + tanh u), u = sqrt(2/pi) (x + 0.044715 x^3), as x / (1 + e^(-2u)): the */      \
  /* latter has no cancellation */                                                             \
  X(kGeluTanh, "gelu_tanh", "",                                                                \
    x / (1.0 + std::exp(-2.0 * (0.79788456080286535588 * (x + 0.044715 * x * x * x)))))     \
  X(kSilu, "silu", "", x / (1.0 + std::exp(-x)))                                               \
  X(kSigmoid, "sigmoid", "Sigmoid", 1.0 / (1.0 + std::exp(-x)))                                \
  X(kTanh, "tanh", "Tanh", std::tanh(x))                                                       \
  X(kExp, "exp", "Exp", std::exp(x))                                                           \
  X(kNeg, "neg", "Neg", -x)                                                                    \
  X(kSqrt, "sqrt", "Sqrt", std::sqrt(x))                                                       \
  /* correctly rounded sqrt, then the division */                                              \
  X(kRsqrt, "rsqrt", "", 1.0 / std::sqrt(x))                                                   \
  X(kAbs, "abs", "Abs", std::fabs(x))                                                          \
  X(kErf, "erf", "Erf", std::erf(x))                                                           \
  X(kReciprocal, "reciprocal", "Reciprocal", 1.0 / x)

enum class F32Unary : int {
#define EDGE_F32_UNARY_ENUM(e, name, onnx, formula) e,
  EDGE_F32_UNARY(EDGE_F32_UNARY_ENUM)
#undef EDGE_F32_UNARY_ENUM
  kCount
};

const char* F32UnaryName(F32Unary kind);  // "gelu", "silu", ...
// kind's reference formula at x in double precision (the table's last column).
double F32UnaryEval(F32Unary kind, double x);
// "f32_gelu_ref", "f32_gelu__avx2", ..., "f32_gelu__neon": the name of kind's
// kernel in one instantiation (KernelConfig::f32), a static string.
const char* F32UnaryKernelName(F32Unary kind, F32Variant variant);

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
enum class VecMathFn : int { kExp = 0, kExp2Fast, kErf, kTanh, kSigmoid, kSilu, kGelu, kGeluTanh, kCount };
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
