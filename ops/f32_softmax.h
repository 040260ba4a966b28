// Softmax of an F32 array viewed as [outer, axis, inner] along the middle
// dimension (inner == 1 is the usual last-axis case). y may equal x.
#pragma once

#include <cstddef>

#include <pthreadpool.h>

#include "ops/isa.h"

namespace edge {

typedef void (*f32_softmax_fn)(size_t outer, size_t axis, size_t inner, const float* x,
                               float* y, pthreadpool_t pool);

// Reference: max-subtracted, double exp and sum.
void f32_softmax_ref(size_t outer, size_t axis, size_t inner, const float* x, float* y,
                     pthreadpool_t pool);
#if EDGE_ARCH_X86_64
void f32_softmax__avx2(size_t outer, size_t axis, size_t inner, const float* x, float* y,
                       pthreadpool_t pool);
void f32_softmax__avx512(size_t outer, size_t axis, size_t inner, const float* x, float* y,
                         pthreadpool_t pool);
#endif
#if EDGE_ARCH_ARM
void f32_softmax__neon(size_t outer, size_t axis, size_t inner, const float* x, float* y,
                       pthreadpool_t pool);
#endif

}  // namespace edge
