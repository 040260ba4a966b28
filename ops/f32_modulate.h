// adaLN helpers on x viewed as [batch, tokens, dim]; the per-sample vectors
// (shift/scale/gate) are [batch, dim] rows, read with `param_stride` floats
// between samples (dim normally; 0 when one row serves every sample).
//   Modulate:      y = x * (1 + scale) + shift
//   GatedResidual: y = x + gate * r
// y may equal x.
#pragma once

#include <cstddef>

#include <pthreadpool.h>

#include "ops/isa.h"

namespace edge {

typedef void (*f32_modulate_fn)(size_t batch, size_t tokens, size_t dim, size_t param_stride,
                                const float* x, const float* shift, const float* scale, float* y,
                                pthreadpool_t pool);
typedef void (*f32_gated_residual_fn)(size_t batch, size_t tokens, size_t dim,
                                      size_t param_stride, const float* x, const float* gate,
                                      const float* r, float* y, pthreadpool_t pool);

void f32_modulate_ref(size_t batch, size_t tokens, size_t dim, size_t param_stride,
                      const float* x, const float* shift, const float* scale, float* y,
                      pthreadpool_t pool);
void f32_gated_residual_ref(size_t batch, size_t tokens, size_t dim, size_t param_stride,
                            const float* x, const float* gate, const float* r, float* y,
                            pthreadpool_t pool);
#if EDGE_ARCH_X86_64
void f32_modulate__avx2(size_t batch, size_t tokens, size_t dim, size_t param_stride,
                        const float* x, const float* shift, const float* scale, float* y,
                        pthreadpool_t pool);
void f32_modulate__avx512(size_t batch, size_t tokens, size_t dim, size_t param_stride,
                          const float* x, const float* shift, const float* scale, float* y,
                          pthreadpool_t pool);
void f32_gated_residual__avx2(size_t batch, size_t tokens, size_t dim, size_t param_stride,
                              const float* x, const float* gate, const float* r, float* y,
                              pthreadpool_t pool);
void f32_gated_residual__avx512(size_t batch, size_t tokens, size_t dim, size_t param_stride,
                                const float* x, const float* gate, const float* r, float* y,
                                pthreadpool_t pool);
#endif
#if EDGE_ARCH_ARM
void f32_modulate__neon(size_t batch, size_t tokens, size_t dim, size_t param_stride,
                        const float* x, const float* shift, const float* scale, float* y,
                        pthreadpool_t pool);
void f32_gated_residual__neon(size_t batch, size_t tokens, size_t dim, size_t param_stride,
                              const float* x, const float* gate, const float* r, float* y,
                              pthreadpool_t pool);
#endif

}  // namespace edge
