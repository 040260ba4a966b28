// Scalar reference for the unary functions: double math per element, so the
// reference is correctly rounded to within a fraction of a float ulp.
#include <cmath>

#include "ops/f32_activation.h"
#include "ops/parallel.h"

namespace edge {

const char* F32UnaryName(F32Unary kind) {
  static const char* const kNames[] = {"gelu", "gelu_tanh", "silu", "sigmoid", "tanh", "exp",
                                       "neg",  "sqrt",      "rsqrt", "abs",   "erf",  "reciprocal"};
  const int k = static_cast<int>(kind);
  return k >= 0 && k < static_cast<int>(F32Unary::kCount) ? kNames[k] : "unknown";
}

namespace {

double Apply(F32Unary kind, double x) {
  switch (kind) {
    case F32Unary::kGelu: return 0.5 * x * std::erfc(-x * 0.70710678118654752440);
    case F32Unary::kGeluTanh: {
      // 0.5 x (1 + tanh u) == x / (1 + e^(-2u)); the latter has no cancellation.
      const double u = 0.79788456080286535588 * (x + 0.044715 * x * x * x);
      return x / (1.0 + std::exp(-2.0 * u));
    }
    case F32Unary::kSilu: return x / (1.0 + std::exp(-x));
    case F32Unary::kSigmoid: return 1.0 / (1.0 + std::exp(-x));
    case F32Unary::kTanh: return std::tanh(x);
    case F32Unary::kExp: return std::exp(x);
    case F32Unary::kNeg: return -x;
    case F32Unary::kSqrt: return std::sqrt(x);
    case F32Unary::kRsqrt: return 1.0 / std::sqrt(x);
    case F32Unary::kAbs: return std::fabs(x);
    case F32Unary::kErf: return std::erf(x);
    case F32Unary::kReciprocal: return 1.0 / x;
    case F32Unary::kCount: break;
  }
  return x;
}

}  // namespace

void f32_vunary_ref(F32Unary kind, size_t n, const float* x, float* y, pthreadpool_t pool) {
  ParallelFor(pool, n, 4096, [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) y[i] = static_cast<float>(Apply(kind, x[i]));
  });
}

}  // namespace edge
