// Scalar Modulate / GatedResidual, in the order of operations PyTorch uses
// (x * (1 + scale) + shift; x + gate * r), one rounding per operation.
#include "ops/f32_modulate.h"
#include "ops/parallel.h"

namespace edge {

void f32_modulate_ref(size_t batch, size_t tokens, size_t dim, size_t param_stride,
                      const float* x, const float* shift, const float* scale, float* y,
                      pthreadpool_t pool) {
  ParallelFor(pool, batch * tokens, RowGrain(dim), [&](size_t r0, size_t r1) {
    for (size_t r = r0; r < r1; ++r) {
      const float* sh = shift + (r / tokens) * param_stride;
      const float* sc = scale + (r / tokens) * param_stride;
      const float* xr = x + r * dim;
      float* yr = y + r * dim;
      for (size_t i = 0; i < dim; ++i) yr[i] = xr[i] * (1.0f + sc[i]) + sh[i];
    }
  });
}

void f32_gated_residual_ref(size_t batch, size_t tokens, size_t dim, size_t param_stride,
                            const float* x, const float* gate, const float* r, float* y,
                            pthreadpool_t pool) {
  ParallelFor(pool, batch * tokens, RowGrain(dim), [&](size_t r0, size_t r1) {
    for (size_t row = r0; row < r1; ++row) {
      const float* g = gate + (row / tokens) * param_stride;
      const float* xr = x + row * dim;
      const float* rr = r + row * dim;
      float* yr = y + row * dim;
      for (size_t i = 0; i < dim; ++i) yr[i] = xr[i] + g[i] * rr[i];
    }
  });
}

}  // namespace edge
