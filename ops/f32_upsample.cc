#include "ops/f32_upsample.h"

#include <cstring>

#include "ops/parallel.h"

namespace edge {

void f32_upsample_nearest(const F32UpsampleParams& p, const float* x, float* y, pthreadpool_t pool) {
  const size_t ow = p.in_w * p.factor_w, rows = p.outer * p.in_h;
  if (ow == 0 || p.factor_h == 0) return;
  ParallelFor(pool, rows, RowGrain(ow * p.factor_h), [&](size_t r0, size_t r1) {
    for (size_t r = r0; r < r1; ++r) {
      const float* s = x + r * p.in_w;
      float* d = y + r * p.factor_h * ow;
      // Widen the input row into the first output row, then copy that row
      // to the factor_h - 1 rows below it.
      if (p.factor_w == 2) {
        for (size_t j = 0; j < p.in_w; ++j) d[2 * j] = d[2 * j + 1] = s[j];
      } else {
        for (size_t j = 0; j < p.in_w; ++j)
          for (size_t f = 0; f < p.factor_w; ++f) d[j * p.factor_w + f] = s[j];
      }
      for (size_t f = 1; f < p.factor_h; ++f) std::memcpy(d + f * ow, d, ow * sizeof(float));
    }
  });
}

}  // namespace edge
