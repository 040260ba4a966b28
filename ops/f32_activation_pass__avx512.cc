// AVX-512 activation pass (ops/f32_activation_pass.h) and the array form of the
// Cephes exp it and the attention use.
#include "ops/f32_activation_pass.h"
#include "ops/f32_vec.h"

namespace edge {

void f32_activation__avx512(size_t n, float* x, int act) {
  vactivate_inplace<VecAvx512>(n, x, act);
}

void f32_vexp__avx512(size_t n, const float* x, float* y) { vexp_array<VecAvx512>(n, x, y); }

}  // namespace edge
