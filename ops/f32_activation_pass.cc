// The portable activation pass and vector-math arrays, and the parallel
// driver of every pass (ops/f32_activation_pass.h).
#include "ops/f32_activation_pass.h"

#include "ops/f32_activation_simd.h"

namespace edge {

void f32_activation__scalar(size_t n, float* x, int act) { simd::ActivationPass<VecScalar>(n, x, act); }

void f32_vmath__scalar(VecMathFn fn, size_t n, const float* x, float* y) {
  simd::VMath<VecScalar>(fn, n, x, y);
}

namespace {

struct ActTask {
  F32ActivationFn fn;
  float* x;
  int act;
};
void ActTile(void* ctx, size_t start, size_t count) {
  const ActTask& t = *static_cast<const ActTask*>(ctx);
  t.fn(count, t.x + start, t.act);
}

}  // namespace

void f32_activation_parallel(F32ActivationFn fn, size_t n, float* x, GemmActivation act,
                             pthreadpool_t pool) {
  if (act == GemmActivation::kNone) return;
  ActTask t = {fn, x, static_cast<int>(act)};
  if (pool != nullptr && pthreadpool_get_threads_count(pool) > 1) {
    pthreadpool_parallelize_1d_tile_1d(pool, ActTile, &t, n, 16384, 0);
  } else {
    ActTile(&t, 0, n);
  }
}

}  // namespace edge
