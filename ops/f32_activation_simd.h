// Vector unary kernels over a SIMD type V of ops/f32_vec.h: the Unary / Gelu /
// SiLU ops, the activation pass of the GEMM family and the array form of each
// vector-math function. Included only by the per-ISA .cc files.
#pragma once

#include <cstddef>

#include "ops/f32_activation.h"
#include "ops/f32_activation_pass.h"
#include "ops/f32_vec.h"
#include "ops/parallel.h"

namespace edge {
namespace simd {

// y = f(x) over n floats. The wide x86 vectors unroll twice (the long
// polynomials are latency-bound); the 4-lane and 1-lane structs, which the
// size-bound AArch64 and AArch32 core binaries use, inline f once.
template <class V, class F>
inline void MapUnary(size_t n, const float* x, float* y, F f) {
  size_t i = 0;
  if (V::N > 4) {
    for (; i + 2 * V::N <= n; i += 2 * V::N) {
      const typename V::T a = f(V::load(x + i));
      const typename V::T b = f(V::load(x + i + V::N));
      V::store(y + i, a);
      V::store(y + i + V::N, b);
    }
    for (; i + V::N <= n; i += V::N) V::store(y + i, f(V::load(x + i)));
    if (i < n) V::store_tail(y + i, f(V::load_tail(x + i, n - i)), n - i);
    return;
  }
  for (; i < n; i += V::N) {
    const size_t r = n - i < static_cast<size_t>(V::N) ? n - i : V::N;
    V::store_tail(y + i, f(V::load_tail(x + i, r)), r);
  }
}

template <class V, class F>
inline void MapUnaryParallel(size_t n, const float* x, float* y, pthreadpool_t pool, size_t grain,
                             F f) {
  ParallelFor(pool, n, grain, [&](size_t begin, size_t end) {
    MapUnary<V>(end - begin, x + begin, y + begin, f);
  });
}

// y = fn(x) over n floats, on the calling thread.
template <class V>
void VMath(VecMathFn fn, size_t n, const float* x, float* y) {
  using T = typename V::T;
  namespace vm = vecmath;
  switch (fn) {
    case VecMathFn::kExp: return MapUnary<V>(n, x, y, [](T v) { return vm::Exp<V>(v); });
    case VecMathFn::kExp2Fast: return MapUnary<V>(n, x, y, [](T v) { return vm::Exp2Fast<V>(v); });
    case VecMathFn::kErf: return MapUnary<V>(n, x, y, [](T v) { return vm::Erf<V>(v); });
    case VecMathFn::kTanh: return MapUnary<V>(n, x, y, [](T v) { return vm::Tanh<V>(v); });
    case VecMathFn::kSigmoid: return MapUnary<V>(n, x, y, [](T v) { return vm::Sigmoid<V>(v); });
    case VecMathFn::kSilu: return MapUnary<V>(n, x, y, [](T v) { return vm::Silu<V>(v); });
    case VecMathFn::kGelu: return MapUnary<V>(n, x, y, [](T v) { return vm::Gelu<V>(v); });
    case VecMathFn::kGeluTanh: return MapUnary<V>(n, x, y, [](T v) { return vm::GeluTanh<V>(v); });
    case VecMathFn::kCount: break;
  }
}

// The activation pass of the GEMM family (ops/f32_activation_pass.h): the
// GemmActivation code `act` in place over n floats. Only the three fused
// activations are instantiated (VMath would bring every function into the
// size-bound AArch64 core).
template <class V>
void ActivationPass(size_t n, float* x, int act) {
  using T = typename V::T;
  switch (static_cast<GemmActivation>(act)) {
    case GemmActivation::kGelu: return MapUnary<V>(n, x, x, [](T v) { return vecmath::Gelu<V>(v); });
    case GemmActivation::kGeluTanh:
      return MapUnary<V>(n, x, x, [](T v) { return vecmath::GeluTanh<V>(v); });
    case GemmActivation::kSiLU: return MapUnary<V>(n, x, x, [](T v) { return vecmath::Silu<V>(v); });
    case GemmActivation::kNone: break;
  }
}

template <class V>
void VUnary(F32Unary kind, size_t n, const float* x, float* y, pthreadpool_t pool) {
  using T = typename V::T;
  // Transcendentals cost ~20-60 ops per vector: smaller tiles pay off.
  const size_t kHeavy = 4096, kLight = 16384;
  auto math = [&](VecMathFn fn) {
    ParallelFor(pool, n, kHeavy, [&](size_t begin, size_t end) {
      VMath<V>(fn, end - begin, x + begin, y + begin);
    });
  };
  switch (kind) {
    case F32Unary::kGelu: return math(VecMathFn::kGelu);
    case F32Unary::kGeluTanh: return math(VecMathFn::kGeluTanh);
    case F32Unary::kSilu: return math(VecMathFn::kSilu);
    case F32Unary::kSigmoid: return math(VecMathFn::kSigmoid);
    case F32Unary::kTanh: return math(VecMathFn::kTanh);
    case F32Unary::kExp: return math(VecMathFn::kExp);
    case F32Unary::kErf: return math(VecMathFn::kErf);
    case F32Unary::kNeg: return MapUnaryParallel<V>(n, x, y, pool, kLight, [](T v) { return V::neg(v); });
    case F32Unary::kAbs: return MapUnaryParallel<V>(n, x, y, pool, kLight, [](T v) { return V::abs(v); });
    case F32Unary::kSqrt: return MapUnaryParallel<V>(n, x, y, pool, kLight, [](T v) { return V::sqrt(v); });
    case F32Unary::kRsqrt:
      return MapUnaryParallel<V>(n, x, y, pool, kLight, [](T v) { return V::div(V::set1(1.0f), V::sqrt(v)); });
    case F32Unary::kReciprocal:
      return MapUnaryParallel<V>(n, x, y, pool, kLight, [](T v) { return V::div(V::set1(1.0f), v); });
    case F32Unary::kCount: break;
  }
}

}  // namespace simd
}  // namespace edge
