// avx2 instantiation of softmax (ops/f32_softmax_simd.h).
#include "ops/f32_vec.h"
#include "ops/f32_softmax_simd.h"

namespace edge {

void f32_softmax__avx2(size_t outer, size_t axis, size_t inner, const float* x, float* y,
                       pthreadpool_t pool) {
  simd::Softmax<VecAvx2>(outer, axis, inner, x, y, pool);
}

}  // namespace edge
