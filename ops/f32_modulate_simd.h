// Vector Modulate / GatedResidual over a vector type V. Included only by the
// per-ISA .cc files. Each uses one FMA per element (one rounding fewer than
// the reference's separate multiply and add).
#pragma once

#include <cstddef>

#include "ops/f32_modulate.h"
#include "ops/parallel.h"

namespace edge {
namespace simd {

template <class V>
void Modulate(size_t batch, size_t tokens, size_t dim, size_t param_stride, const float* x,
              const float* shift, const float* scale, float* y, pthreadpool_t pool) {
  using T = typename V::T;
  // The sizes are read into locals first: the closure is reached through a
  // pointer, and the compiler cannot tell that the stores through y leave it
  // alone, so it reloaded dim (and the constant 1) in every iteration.
  ParallelFor(pool, batch * tokens, RowGrain(dim), [=](size_t r0, size_t r1) {
    const size_t n = dim, tk = tokens, ps = param_stride;
    const T one = V::set1(1.0f);
    for (size_t r = r0; r < r1; ++r) {
      const float* sh = shift + (r / tk) * ps;
      const float* sc = scale + (r / tk) * ps;
      const float* xr = x + r * n;
      float* yr = y + r * n;
      size_t i = 0;
      for (; i + V::N <= n; i += V::N)
        V::store(yr + i, V::fma(V::load(xr + i), V::add(one, V::load(sc + i)), V::load(sh + i)));
      if (i < n) {
        const size_t t = n - i;
        V::store_tail(yr + i, V::fma(V::load_tail(xr + i, t), V::add(one, V::load_tail(sc + i, t)),
                                     V::load_tail(sh + i, t)), t);
      }
    }
  });
}

template <class V>
void GatedResidual(size_t batch, size_t tokens, size_t dim, size_t param_stride, const float* x,
                   const float* gate, const float* r, float* y, pthreadpool_t pool) {
  ParallelFor(pool, batch * tokens, RowGrain(dim), [=](size_t r0, size_t r1) {
    const size_t n = dim, tk = tokens, ps = param_stride;  // locals: see Modulate
    for (size_t row = r0; row < r1; ++row) {
      const float* g = gate + (row / tk) * ps;
      const float* xr = x + row * n;
      const float* rr = r + row * n;
      float* yr = y + row * n;
      size_t i = 0;
      for (; i + V::N <= n; i += V::N)
        V::store(yr + i, V::fma(V::load(g + i), V::load(rr + i), V::load(xr + i)));
      if (i < n) {
        const size_t t = n - i;
        V::store_tail(yr + i, V::fma(V::load_tail(g + i, t), V::load_tail(rr + i, t),
                                     V::load_tail(xr + i, t)), t);
      }
    }
  });
}

}  // namespace simd
}  // namespace edge
