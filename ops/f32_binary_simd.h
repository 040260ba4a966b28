// Vector binary kernel over a vector type V. Included only by the per-ISA
// .cc files.
#pragma once

#include <cstddef>

#include "ops/f32_binary.h"

namespace edge {
namespace simd {

// kA / kB: operand is a vector (true) or a broadcast scalar (false).
template <class V, bool kA, bool kB, class F>
inline void VBinaryLoop(size_t n, const float* a, const float* b, float* out, F f) {
  using T = typename V::T;
  const T sa = kA ? V::zero() : V::set1(a[0]);
  const T sb = kB ? V::zero() : V::set1(b[0]);
  size_t i = 0;
  for (; i + 2 * V::N <= n; i += 2 * V::N) {
    const T r0 = f(kA ? V::load(a + i) : sa, kB ? V::load(b + i) : sb);
    const T r1 = f(kA ? V::load(a + i + V::N) : sa, kB ? V::load(b + i + V::N) : sb);
    V::store(out + i, r0);
    V::store(out + i + V::N, r1);
  }
  for (; i + V::N <= n; i += V::N)
    V::store(out + i, f(kA ? V::load(a + i) : sa, kB ? V::load(b + i) : sb));
  if (i < n) {
    const size_t t = n - i;
    V::store_tail(out + i, f(kA ? V::load_tail(a + i, t) : sa, kB ? V::load_tail(b + i, t) : sb), t);
  }
}

template <class V, class F>
inline void VBinaryOp(size_t n, const float* a, bool as, const float* b, bool bs, float* out,
                      F f) {
  if (!as && !bs) return VBinaryLoop<V, true, true>(n, a, b, out, f);
  if (as && !bs) return VBinaryLoop<V, false, true>(n, a, b, out, f);
  if (!as && bs) return VBinaryLoop<V, true, false>(n, a, b, out, f);
  return VBinaryLoop<V, false, false>(n, a, b, out, f);
}

template <class V>
void VBinary(BinaryOp op, size_t n, const float* a, bool as, const float* b, bool bs,
             float* out) {
  using T = typename V::T;
  switch (op) {
    case BinaryOp::kAdd: return VBinaryOp<V>(n, a, as, b, bs, out, [](T x, T y) { return V::add(x, y); });
    case BinaryOp::kSub: return VBinaryOp<V>(n, a, as, b, bs, out, [](T x, T y) { return V::sub(x, y); });
    case BinaryOp::kMul: return VBinaryOp<V>(n, a, as, b, bs, out, [](T x, T y) { return V::mul(x, y); });
    case BinaryOp::kDiv: return VBinaryOp<V>(n, a, as, b, bs, out, [](T x, T y) { return V::div(x, y); });
  }
}

}  // namespace simd
}  // namespace edge
