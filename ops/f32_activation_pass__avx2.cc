// AVX2+FMA activation pass (ops/f32_activation_pass.h) and the array form of the
// Cephes exp it and the attention use.
#include "ops/f32_activation_pass.h"
#include "ops/f32_vec.h"

namespace edge {

void f32_activation__avx2(size_t n, float* x, int act) { vactivate_inplace<VecAvx2>(n, x, act); }

void f32_vexp__avx2(size_t n, const float* x, float* y) { vexp_array<VecAvx2>(n, x, y); }

}  // namespace edge
