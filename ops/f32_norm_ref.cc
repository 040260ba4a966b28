// Scalar LayerNorm / RMSNorm / GroupNorm: double accumulation, two passes per
// row (group).
#include <cmath>

#include "ops/f32_groupnorm.h"
#include "ops/f32_norm.h"
#include "ops/parallel.h"

namespace edge {
namespace {

// Mean and 1 / sqrt(var + eps) of n > 0 values, two passes in double.
void MeanRstd(size_t n, const float* x, float eps, double* mean, double* rstd) {
  double sum = 0;
  for (size_t i = 0; i < n; ++i) sum += x[i];
  *mean = sum / static_cast<double>(n);
  double sq = 0;
  for (size_t i = 0; i < n; ++i) sq += (x[i] - *mean) * (x[i] - *mean);
  *rstd = 1.0 / std::sqrt(sq / static_cast<double>(n) + eps);
}

}  // namespace

void f32_layernorm_ref(size_t rows, size_t cols, const float* x, const float* gamma,
                       const float* beta, float eps, float* y, pthreadpool_t pool) {
  if (cols == 0) return;
  ParallelFor(pool, rows, RowGrain(cols), [&](size_t r0, size_t r1) {
    for (size_t r = r0; r < r1; ++r) {
      const float* xr = x + r * cols;
      float* yr = y + r * cols;
      double mean, rstd;
      MeanRstd(cols, xr, eps, &mean, &rstd);
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

void f32_groupnorm_ref(const F32GroupNormParams& p, const float* x, const float* gamma,
                       const float* beta, float* y, pthreadpool_t pool) {
  ForEachGroup(p, x, y, pool, [&](const float* xg, float* yg, size_t c0) {
    const size_t len = p.channels / p.groups * p.spatial;
    double mean, rstd;
    MeanRstd(len, xg, p.eps, &mean, &rstd);
    for (size_t i = 0; i < len; ++i) {
      const size_t c = c0 + i / p.spatial;
      double v = (xg[i] - mean) * rstd * (gamma != nullptr ? gamma[c] : 1.0f) + (beta != nullptr ? beta[c] : 0.0f);
      if (p.silu) v = v / (1.0 + std::exp(-v));
      yg[i] = static_cast<float>(v);
    }
  });
}

}  // namespace edge
