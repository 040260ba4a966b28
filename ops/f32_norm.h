// Normalizations over the last axis of a [rows, cols] F32 array.
//   LayerNorm: y = (x - mean) / sqrt(var + eps) * gamma + beta
//   RMSNorm:   y = x / sqrt(mean(x^2) + eps) * gamma
// gamma and beta may be null (1 and 0). y may equal x.
#pragma once

#include <cstddef>

#include <pthreadpool.h>

#include "ops/isa.h"

namespace edge {

typedef void (*f32_layernorm_fn)(size_t rows, size_t cols, const float* x, const float* gamma,
                                 const float* beta, float eps, float* y, pthreadpool_t pool);
typedef void (*f32_rmsnorm_fn)(size_t rows, size_t cols, const float* x, const float* gamma,
                               float eps, float* y, pthreadpool_t pool);

// References accumulate in double (two passes).
void f32_layernorm_ref(size_t rows, size_t cols, const float* x, const float* gamma,
                       const float* beta, float eps, float* y, pthreadpool_t pool);
void f32_rmsnorm_ref(size_t rows, size_t cols, const float* x, const float* gamma, float eps,
                     float* y, pthreadpool_t pool);
#if EDGE_ARCH_X86_64
void f32_layernorm__avx2(size_t rows, size_t cols, const float* x, const float* gamma,
                         const float* beta, float eps, float* y, pthreadpool_t pool);
void f32_layernorm__avx512(size_t rows, size_t cols, const float* x, const float* gamma,
                           const float* beta, float eps, float* y, pthreadpool_t pool);
void f32_rmsnorm__avx2(size_t rows, size_t cols, const float* x, const float* gamma, float eps,
                       float* y, pthreadpool_t pool);
void f32_rmsnorm__avx512(size_t rows, size_t cols, const float* x, const float* gamma, float eps,
                         float* y, pthreadpool_t pool);
#endif
#if EDGE_ARCH_ARM
void f32_layernorm__neon(size_t rows, size_t cols, const float* x, const float* gamma,
                         const float* beta, float eps, float* y, pthreadpool_t pool);
void f32_rmsnorm__neon(size_t rows, size_t cols, const float* x, const float* gamma, float eps,
                       float* y, pthreadpool_t pool);
#endif

}  // namespace edge
