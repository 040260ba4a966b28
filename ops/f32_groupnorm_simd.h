// Vector GroupNorm over a SIMD type V of ops/f32_vec.h. Included only by the
// per-ISA .cc files.
//
// The statistics of a group are LayerNorm's (ops/f32_norm_simd.h) over its
// contiguous run of values: a float mean m1, then the centered sums giving the
// rounding correction c and the variance. The apply pass folds rstd and the
// channel's gamma into one factor: y = ((x - m1) - c) * (rstd * gamma) + beta.
// Groups are independent and each runs on one thread with the same
// arithmetic, so results do not depend on the thread count.
#pragma once

#include <cmath>
#include <cstddef>

#include "ops/f32_groupnorm.h"
#include "ops/f32_norm_simd.h"

namespace edge {
namespace simd {

template <class V, bool kSilu>
inline void GroupNormApply(size_t n, const float* x, float m1, float c, float a, float b, float* y) {
  using T = typename V::T;
  const T vmean = V::set1(m1), vc = V::set1(c), va = V::set1(a), vb = V::set1(b);
  auto f = [&](T v) {
    T r = V::fma(V::sub(V::sub(v, vmean), vc), va, vb);
    return kSilu ? vecmath::Silu<V>(r) : r;
  };
  size_t i = 0;
  for (; i + V::N <= n; i += V::N) V::store(y + i, f(V::load(x + i)));
  if (i < n) V::store_tail(y + i, f(V::load_tail(x + i, n - i)), n - i);
}

template <class V>
void GroupNorm(const F32GroupNormParams& p, const float* x, const float* gamma, const float* beta,
               float* y, pthreadpool_t pool) {
  ForEachGroup(p, x, y, pool, [&](const float* xg, float* yg, size_t c0) {
    float m1, c, rstd;
    RowMeanRstd<V>(p.channels / p.groups * p.spatial, xg, p.eps, &m1, &c, &rstd);
    for (size_t ch = 0; ch < p.channels / p.groups; ++ch) {
      const float a = gamma != nullptr ? rstd * gamma[c0 + ch] : rstd;
      const float b = beta != nullptr ? beta[c0 + ch] : 0.f;
      const size_t off = ch * p.spatial;
      if (p.silu) {
        GroupNormApply<V, true>(p.spatial, xg + off, m1, c, a, b, yg + off);
      } else {
        GroupNormApply<V, false>(p.spatial, xg + off, m1, c, a, b, yg + off);
      }
    }
  });
}

}  // namespace simd
}  // namespace edge
