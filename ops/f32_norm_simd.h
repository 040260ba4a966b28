// Vector LayerNorm / RMSNorm over a vector type V. Included only by the
// per-ISA .cc files.
//
// LayerNorm numerics: pass 1 gives a float mean m1 (lane-parallel sums). Pass 2
// sums d = x - m1 and d^2; the mean of d is the correction c that m1 lost to
// rounding (large offsets, long rows), and var = mean(d^2) - c^2 has no
// cancellation because c is tiny. Pass 3 writes ((x - m1) - c) * rstd, which
// never forms the rounded value of m1 + c. The row stays in L1/L2 across the
// passes for any realistic width.
#pragma once

#include <cmath>
#include <cstddef>

#include "ops/f32_norm.h"
#include "ops/parallel.h"

namespace edge {
namespace simd {

template <class V>
inline float RowSum(size_t n, const float* x) {
  using T = typename V::T;
  T a0 = V::zero(), a1 = V::zero(), a2 = V::zero(), a3 = V::zero();
  size_t i = 0;
  for (; i + 4 * V::N <= n; i += 4 * V::N) {
    a0 = V::add(a0, V::load(x + i));
    a1 = V::add(a1, V::load(x + i + V::N));
    a2 = V::add(a2, V::load(x + i + 2 * V::N));
    a3 = V::add(a3, V::load(x + i + 3 * V::N));
  }
  for (; i + V::N <= n; i += V::N) a0 = V::add(a0, V::load(x + i));
  if (i < n) a1 = V::add(a1, V::load_tail(x + i, n - i));
  return V::hsum(V::add(V::add(a0, a1), V::add(a2, a3)));
}

template <class V>
inline float RowSumSquares(size_t n, const float* x) {
  using T = typename V::T;
  T a0 = V::zero(), a1 = V::zero(), a2 = V::zero(), a3 = V::zero();
  size_t i = 0;
  for (; i + 4 * V::N <= n; i += 4 * V::N) {
    const T v0 = V::load(x + i), v1 = V::load(x + i + V::N);
    const T v2 = V::load(x + i + 2 * V::N), v3 = V::load(x + i + 3 * V::N);
    a0 = V::fma(v0, v0, a0);
    a1 = V::fma(v1, v1, a1);
    a2 = V::fma(v2, v2, a2);
    a3 = V::fma(v3, v3, a3);
  }
  for (; i + V::N <= n; i += V::N) {
    const T v = V::load(x + i);
    a0 = V::fma(v, v, a0);
  }
  if (i < n) {
    const T v = V::load_tail(x + i, n - i);
    a1 = V::fma(v, v, a1);
  }
  return V::hsum(V::add(V::add(a0, a1), V::add(a2, a3)));
}

// Sums of d = x - m and d^2 over the row.
template <class V>
inline void RowCenteredSums(size_t n, const float* x, float m, float* sum_d, float* sum_d2) {
  using T = typename V::T;
  const T vm = V::set1(m);
  T s0 = V::zero(), s1 = V::zero(), q0 = V::zero(), q1 = V::zero();
  size_t i = 0;
  for (; i + 2 * V::N <= n; i += 2 * V::N) {
    const T d0 = V::sub(V::load(x + i), vm), d1 = V::sub(V::load(x + i + V::N), vm);
    s0 = V::add(s0, d0);
    s1 = V::add(s1, d1);
    q0 = V::fma(d0, d0, q0);
    q1 = V::fma(d1, d1, q1);
  }
  for (; i + V::N <= n; i += V::N) {
    const T d = V::sub(V::load(x + i), vm);
    s0 = V::add(s0, d);
    q0 = V::fma(d, d, q0);
  }
  if (i < n) {
    const T d = V::sub(V::load_tail_fill(x + i, n - i, m), vm);  // padding lanes: d = 0
    s1 = V::add(s1, d);
    q1 = V::fma(d, d, q1);
  }
  *sum_d = V::hsum(V::add(s0, s1));
  *sum_d2 = V::hsum(V::add(q0, q1));
}

// Statistics of a row of n > 0 values (see the numerics above): the float
// mean m1, the correction c and 1 / sqrt(var + eps).
template <class V>
inline void RowMeanRstd(size_t n, const float* x, float eps, float* m1, float* c, float* rstd) {
  const double inv_n = 1.0 / static_cast<double>(n);
  *m1 = static_cast<float>(RowSum<V>(n, x) * inv_n);
  float sd = 0, sd2 = 0;
  RowCenteredSums<V>(n, x, *m1, &sd, &sd2);
  const double cd = sd * inv_n;
  double var = sd2 * inv_n - cd * cd;
  if (var < 0) var = 0;
  *c = static_cast<float>(cd);
  *rstd = static_cast<float>(1.0 / std::sqrt(var + static_cast<double>(eps)));
}

template <class V, bool kGamma, bool kBeta>
inline void LayerNormApply(size_t n, const float* x, const float* gamma, const float* beta,
                           float m1, float c, float rstd, float* y) {
  using T = typename V::T;
  const T vm = V::set1(m1), vc = V::set1(c), vr = V::set1(rstd);
  auto f = [&](T v, size_t i, size_t tail) {
    T r = V::mul(V::sub(V::sub(v, vm), vc), vr);
    if (kGamma) r = V::mul(r, tail ? V::load_tail(gamma + i, tail) : V::load(gamma + i));
    if (kBeta) r = V::add(r, tail ? V::load_tail(beta + i, tail) : V::load(beta + i));
    return r;
  };
  size_t i = 0;
  for (; i + V::N <= n; i += V::N) V::store(y + i, f(V::load(x + i), i, 0));
  if (i < n) V::store_tail(y + i, f(V::load_tail(x + i, n - i), i, n - i), n - i);
}

template <class V>
void LayerNorm(size_t rows, size_t cols, const float* x, const float* gamma, const float* beta,
               float eps, float* y, pthreadpool_t pool) {
  if (cols == 0) return;
  ParallelFor(pool, rows, RowGrain(cols), [&](size_t r0, size_t r1) {
    for (size_t r = r0; r < r1; ++r) {
      const float* xr = x + r * cols;
      float* yr = y + r * cols;
      float m1, cf, rstd;
      RowMeanRstd<V>(cols, xr, eps, &m1, &cf, &rstd);
      if (gamma != nullptr && beta != nullptr) {
        LayerNormApply<V, true, true>(cols, xr, gamma, beta, m1, cf, rstd, yr);
      } else if (gamma != nullptr) {
        LayerNormApply<V, true, false>(cols, xr, gamma, beta, m1, cf, rstd, yr);
      } else if (beta != nullptr) {
        LayerNormApply<V, false, true>(cols, xr, gamma, beta, m1, cf, rstd, yr);
      } else {
        LayerNormApply<V, false, false>(cols, xr, gamma, beta, m1, cf, rstd, yr);
      }
    }
  });
}

template <class V>
void RMSNorm(size_t rows, size_t cols, const float* x, const float* gamma, float eps, float* y,
             pthreadpool_t pool) {
  using T = typename V::T;
  if (cols == 0) return;
  ParallelFor(pool, rows, RowGrain(cols), [&](size_t r0, size_t r1) {
    for (size_t r = r0; r < r1; ++r) {
      const float* xr = x + r * cols;
      float* yr = y + r * cols;
      const double ms = RowSumSquares<V>(cols, xr) / static_cast<double>(cols);
      const T vr = V::set1(static_cast<float>(1.0 / std::sqrt(ms + static_cast<double>(eps))));
      size_t i = 0;
      if (gamma != nullptr) {
        for (; i + V::N <= cols; i += V::N)
          V::store(yr + i, V::mul(V::mul(V::load(xr + i), vr), V::load(gamma + i)));
        if (i < cols) {
          const size_t t = cols - i;
          V::store_tail(yr + i, V::mul(V::mul(V::load_tail(xr + i, t), vr), V::load_tail(gamma + i, t)), t);
        }
      } else {
        for (; i + V::N <= cols; i += V::N) V::store(yr + i, V::mul(V::load(xr + i), vr));
        if (i < cols) V::store_tail(yr + i, V::mul(V::load_tail(xr + i, cols - i), vr), cols - i);
      }
    }
  });
}

}  // namespace simd
}  // namespace edge
