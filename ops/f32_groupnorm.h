// GroupNorm over x[N, C, L] (NCHW with the spatial axes flattened into L).
// The C channels form G groups of C/G consecutive channels, so each (n, g)
// group is one contiguous run of (C/G)*L values with its own mean and
// variance; the per-channel affine and an optional SiLU follow in the same
// pass over the data:
//   y = act((x - mean) / sqrt(var + eps) * gamma[c] + beta[c])
// gamma and beta may be null (1 and 0). y may equal x.
#pragma once

#include <cstddef>

#include <pthreadpool.h>

#include "ops/isa.h"
#include "ops/parallel.h"

namespace edge {

struct F32GroupNormParams {
  size_t batch = 1, channels = 0, spatial = 0, groups = 1;
  float eps = 1e-5f;
  bool silu = false;
};

// Calls f(xg, yg, c0) per (image, group) with the group's contiguous values
// in x and y and its first channel c0. Whole groups are the tasks of the
// pool, so each is computed the same way at any thread count.
template <class F>
inline void ForEachGroup(const F32GroupNormParams& p, const float* x, float* y, pthreadpool_t pool,
                         const F& f) {
  const size_t len = p.channels / p.groups * p.spatial;
  if (len == 0) return;
  ParallelFor(pool, p.batch * p.groups, 1, [&](size_t u0, size_t u1) {
    for (size_t u = u0; u < u1; ++u) f(x + u * len, y + u * len, (u % p.groups) * (p.channels / p.groups));
  });
}

typedef void (*f32_groupnorm_fn)(const F32GroupNormParams& p, const float* x, const float* gamma,
                                 const float* beta, float* y, pthreadpool_t pool);

// Reference: double accumulation, two passes per group.
void f32_groupnorm_ref(const F32GroupNormParams& p, const float* x, const float* gamma,
                       const float* beta, float* y, pthreadpool_t pool);
#if EDGE_ARCH_X86_64
void f32_groupnorm__avx2(const F32GroupNormParams& p, const float* x, const float* gamma,
                         const float* beta, float* y, pthreadpool_t pool);
void f32_groupnorm__avx512(const F32GroupNormParams& p, const float* x, const float* gamma,
                           const float* beta, float* y, pthreadpool_t pool);
#endif
#if EDGE_ARCH_ARM
void f32_groupnorm__neon(const F32GroupNormParams& p, const float* x, const float* gamma,
                         const float* beta, float* y, pthreadpool_t pool);
#endif

}  // namespace edge
