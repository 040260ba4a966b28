// Vector softmax over a vector type V. Included only by the per-ISA .cc files.
//
// inner == 1: per row, max pass, exp pass (writes e^(x-max) to y and sums),
// scale pass. inner > 1: the same three passes on V::N adjacent columns at
// once, walking the axis with stride `inner`, so no transpose is needed.
// Rounding: x - max is exact or within half an ulp of |x - max|, then exp
// (<= 3e-7), float sum over at most axis/(2N) terms per lane, one reciprocal.
#pragma once

#include <cmath>
#include <cstddef>

#include "ops/f32_softmax.h"
#include "ops/parallel.h"

namespace edge {
namespace simd {

template <class V>
inline void SoftmaxRow(size_t n, const float* x, float* y) {
  using T = typename V::T;
  const float kNegInf = -INFINITY;
  T m0 = V::set1(kNegInf), m1 = V::set1(kNegInf);
  size_t i = 0;
  for (; i + 2 * V::N <= n; i += 2 * V::N) {
    m0 = V::max(m0, V::load(x + i));
    m1 = V::max(m1, V::load(x + i + V::N));
  }
  for (; i + V::N <= n; i += V::N) m0 = V::max(m0, V::load(x + i));
  if (i < n) m1 = V::max(m1, V::load_tail_fill(x + i, n - i, kNegInf));
  const T vmax = V::set1(V::hmax(V::max(m0, m1)));

  T s0 = V::zero(), s1 = V::zero();
  i = 0;
  for (; i + 2 * V::N <= n; i += 2 * V::N) {
    const T e0 = vecmath::Exp<V>(V::sub(V::load(x + i), vmax));
    const T e1 = vecmath::Exp<V>(V::sub(V::load(x + i + V::N), vmax));
    V::store(y + i, e0);
    V::store(y + i + V::N, e1);
    s0 = V::add(s0, e0);
    s1 = V::add(s1, e1);
  }
  for (; i + V::N <= n; i += V::N) {
    const T e = vecmath::Exp<V>(V::sub(V::load(x + i), vmax));
    V::store(y + i, e);
    s0 = V::add(s0, e);
  }
  if (i < n) {
    // Padding lanes read -inf and give e^-inf = 0.
    const T e = vecmath::Exp<V>(V::sub(V::load_tail_fill(x + i, n - i, kNegInf), vmax));
    V::store_tail(y + i, e, n - i);
    s1 = V::add(s1, e);
  }
  const T inv = V::set1(1.0f / V::hsum(V::add(s0, s1)));
  i = 0;
  for (; i + V::N <= n; i += V::N) V::store(y + i, V::mul(V::load(y + i), inv));
  if (i < n) V::store_tail(y + i, V::mul(V::load_tail(y + i, n - i), inv), n - i);
}

// `w` (<= V::N) adjacent columns starting at x, axis length n, stride `inner`.
template <class V>
inline void SoftmaxColumns(size_t n, size_t inner, size_t w, const float* x, float* y) {
  using T = typename V::T;
  const bool full = w == static_cast<size_t>(V::N);
  auto ld = [&](const float* p) { return full ? V::load(p) : V::load_tail(p, w); };
  auto st = [&](float* p, T v) {
    if (full) V::store(p, v); else V::store_tail(p, v, w);
  };
  T m = ld(x);
  for (size_t a = 1; a < n; ++a) m = V::max(m, ld(x + a * inner));
  T s = V::zero();
  for (size_t a = 0; a < n; ++a) {
    const T e = vecmath::Exp<V>(V::sub(ld(x + a * inner), m));
    st(y + a * inner, e);
    s = V::add(s, e);
  }
  const T inv = V::div(V::set1(1.0f), s);
  for (size_t a = 0; a < n; ++a) st(y + a * inner, V::mul(ld(y + a * inner), inv));
}

template <class V>
void Softmax(size_t outer, size_t axis, size_t inner, const float* x, float* y,
             pthreadpool_t pool) {
  if (axis == 0 || inner == 0 || outer == 0) return;
  if (inner == 1) {
    ParallelFor(pool, outer, RowGrain(axis) / 4 + 1, [&](size_t r0, size_t r1) {
      for (size_t r = r0; r < r1; ++r) SoftmaxRow<V>(axis, x + r * axis, y + r * axis);
    });
    return;
  }
  const size_t blocks = (inner + V::N - 1) / V::N;
  ParallelFor(pool, outer * blocks, RowGrain(axis * V::N) / 4 + 1, [&](size_t b0, size_t b1) {
    for (size_t b = b0; b < b1; ++b) {
      const size_t o = b / blocks, j = (b % blocks) * V::N;
      const size_t w = inner - j < static_cast<size_t>(V::N) ? inner - j : V::N;
      const size_t off = o * axis * inner + j;
      SoftmaxColumns<V>(axis, inner, w, x + off, y + off);
    }
  });
}

}  // namespace simd
}  // namespace edge
