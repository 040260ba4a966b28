// NEON instantiation of softmax (ops/f32_softmax_simd.h).
// Built for AArch64 and for AArch32 with -mfpu=neon-vfpv4 (ops/CMakeLists.txt).
#include "ops/f32_vec.h"
#include "ops/f32_softmax_simd.h"

namespace edge {

void f32_softmax__neon(size_t outer, size_t axis, size_t inner, const float* x, float* y,
                       pthreadpool_t pool) {
  simd::Softmax<VecNeon>(outer, axis, inner, x, y, pool);
}

}  // namespace edge
