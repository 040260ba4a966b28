// Scalar LayerNorm / RMSNorm: double accumulation, two passes per row.
#include <cmath>

#include "ops/f32_norm.h"
#include "ops/parallel.h"

namespace edge {

void f32_layernorm_ref(size_t rows, size_t cols, const float* x, const float* gamma,
                       const float* beta, float eps, float* y, pthreadpool_t pool) {
  if (cols == 0) return;
  ParallelFor(pool, rows, RowGrain(cols), [&](size_t r0, size_t r1) {
    for (size_t r = r0; r < r1; ++r) {
      const float* xr = x + r * cols;
      float* yr = y + r * cols;
      double sum = 0;
      for (size_t i = 0; i < cols; ++i) sum += xr[i];
      const double mean = sum / static_cast<double>(cols);
      double sq = 0;
      for (size_t i = 0; i < cols; ++i) {
        const double d = xr[i] - mean;
        sq += d * d;
      }
      const double rstd = 1.0 / std::sqrt(sq / static_cast<double>(cols) + eps);
      for (size_t i = 0; i < cols; ++i) {
        double v = (xr[i] - mean) * rstd;
        if (gamma != nullptr) v *= gamma[i];
        if (beta != nullptr) v += beta[i];
        yr[i] = static_cast<float>(v);
      }
    }
  });
}

void f32_rmsnorm_ref(size_t rows, size_t cols, const float* x, const float* gamma, float eps,
                     float* y, pthreadpool_t pool) {
  if (cols == 0) return;
  ParallelFor(pool, rows, RowGrain(cols), [&](size_t r0, size_t r1) {
    for (size_t r = r0; r < r1; ++r) {
      const float* xr = x + r * cols;
      float* yr = y + r * cols;
      double sq = 0;
      for (size_t i = 0; i < cols; ++i) sq += static_cast<double>(xr[i]) * xr[i];
      const double rs = 1.0 / std::sqrt(sq / static_cast<double>(cols) + eps);
      for (size_t i = 0; i < cols; ++i) {
        double v = xr[i] * rs;
        if (gamma != nullptr) v *= gamma[i];
        yr[i] = static_cast<float>(v);
      }
    }
  });
}

}  // namespace edge
