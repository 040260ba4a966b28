// Scalar softmax along the middle axis of [outer, axis, inner].
#include <cmath>

#include "ops/f32_softmax.h"
#include "ops/parallel.h"

namespace edge {

void f32_softmax_ref(size_t outer, size_t axis, size_t inner, const float* x, float* y,
                     pthreadpool_t pool) {
  if (axis == 0 || inner == 0) return;
  // One task item per (outer, inner) column.
  ParallelFor(pool, outer * inner, RowGrain(axis), [&](size_t c0, size_t c1) {
    for (size_t c = c0; c < c1; ++c) {
      const size_t o = c / inner, j = c % inner;
      const float* xc = x + o * axis * inner + j;
      float* yc = y + o * axis * inner + j;
      float m = xc[0];
      for (size_t a = 1; a < axis; ++a) m = xc[a * inner] > m ? xc[a * inner] : m;
      double sum = 0;
      for (size_t a = 0; a < axis; ++a) sum += std::exp(static_cast<double>(xc[a * inner]) - m);
      const double inv = 1.0 / sum;
      for (size_t a = 0; a < axis; ++a)
        yc[a * inner] = static_cast<float>(std::exp(static_cast<double>(xc[a * inner]) - m) * inv);
    }
  });
}

}  // namespace edge
