// Vector unary kernels over a vector type V (ops/vec_math_avx2.h,
// ops/vec_math_avx512.h). Included only by the per-ISA .cc files.
#pragma once

#include <cstddef>

#include "ops/f32_activation.h"
#include "ops/parallel.h"

namespace edge {
namespace simd {

template <class V, class F>
inline void MapUnary(size_t n, const float* x, float* y, F f) {
  size_t i = 0;
  for (; i + 2 * V::N <= n; i += 2 * V::N) {
    const typename V::T a = f(V::load(x + i));
    const typename V::T b = f(V::load(x + i + V::N));
    V::store(y + i, a);
    V::store(y + i + V::N, b);
  }
  for (; i + V::N <= n; i += V::N) V::store(y + i, f(V::load(x + i)));
  if (i < n) V::store_tail(y + i, f(V::load_tail(x + i, n - i)), n - i);
}

template <class V, class F>
inline void MapUnaryParallel(size_t n, const float* x, float* y, pthreadpool_t pool, size_t grain,
                             F f) {
  ParallelFor(pool, n, grain, [&](size_t begin, size_t end) {
    MapUnary<V>(end - begin, x + begin, y + begin, f);
  });
}

template <class V>
void VUnary(F32Unary kind, size_t n, const float* x, float* y, pthreadpool_t pool) {
  using T = typename V::T;
  namespace vm = vecmath;
  // Transcendentals cost ~20-60 ops per vector: smaller tiles pay off.
  const size_t kHeavy = 4096, kLight = 16384;
  switch (kind) {
    case F32Unary::kGelu: return MapUnaryParallel<V>(n, x, y, pool, kHeavy, [](T v) { return vm::Gelu<V>(v); });
    case F32Unary::kGeluTanh: return MapUnaryParallel<V>(n, x, y, pool, kHeavy, [](T v) { return vm::GeluTanh<V>(v); });
    case F32Unary::kSilu: return MapUnaryParallel<V>(n, x, y, pool, kHeavy, [](T v) { return vm::Silu<V>(v); });
    case F32Unary::kSigmoid: return MapUnaryParallel<V>(n, x, y, pool, kHeavy, [](T v) { return vm::Sigmoid<V>(v); });
    case F32Unary::kTanh: return MapUnaryParallel<V>(n, x, y, pool, kHeavy, [](T v) { return vm::Tanh<V>(v); });
    case F32Unary::kExp: return MapUnaryParallel<V>(n, x, y, pool, kHeavy, [](T v) { return vm::Exp<V>(v); });
    case F32Unary::kErf: return MapUnaryParallel<V>(n, x, y, pool, kHeavy, [](T v) { return vm::Erf<V>(v); });
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
