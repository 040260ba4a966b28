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
  const T one = V::set1(1.0f);
  ParallelFor(pool, batch * tokens, RowGrain(dim), [&](size_t r0, size_t r1) {
    for (size_t r = r0; r < r1; ++r) {
      const float* sh = shift + (r / tokens) * param_stride;
      const float* sc = scale + (r / tokens) * param_stride;
      const float* xr = x + r * dim;
      float* yr = y + r * dim;
      size_t i = 0;
      for (; i + V::N <= dim; i += V::N)
        V::store(yr + i, V::fma(V::load(xr + i), V::add(one, V::load(sc + i)), V::load(sh + i)));
      if (i < dim) {
        const size_t t = dim - i;
        V::store_tail(yr + i, V::fma(V::load_tail(xr + i, t), V::add(one, V::load_tail(sc + i, t)),
                                     V::load_tail(sh + i, t)), t);
      }
    }
  });
}

template <class V>
void GatedResidual(size_t batch, size_t tokens, size_t dim, size_t param_stride, const float* x,
                   const float* gate, const float* r, float* y, pthreadpool_t pool) {
  ParallelFor(pool, batch * tokens, RowGrain(dim), [&](size_t r0, size_t r1) {
    for (size_t row = r0; row < r1; ++row) {
      const float* g = gate + (row / tokens) * param_stride;
      const float* xr = x + row * dim;
      const float* rr = r + row * dim;
      float* yr = y + row * dim;
      size_t i = 0;
      for (; i + V::N <= dim; i += V::N)
        V::store(yr + i, V::fma(V::load(g + i), V::load(rr + i), V::load(xr + i)));
      if (i < dim) {
        const size_t t = dim - i;
        V::store_tail(yr + i, V::fma(V::load_tail(g + i, t), V::load_tail(rr + i, t),
                                     V::load_tail(xr + i, t)), t);
      }
    }
  });
}

}  // namespace simd
}  // namespace edge
