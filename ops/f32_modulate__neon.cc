// NEON instantiation of Modulate / GatedResidual (ops/f32_modulate_simd.h).
// Built for AArch64 and for AArch32 with -mfpu=neon-vfpv4 (ops/CMakeLists.txt).
#include "ops/f32_vec.h"
#include "ops/f32_modulate_simd.h"

namespace edge {

void f32_modulate__neon(size_t batch, size_t tokens, size_t dim, size_t param_stride,
                        const float* x, const float* shift, const float* scale, float* y,
                        pthreadpool_t pool) {
  simd::Modulate<VecNeon>(batch, tokens, dim, param_stride, x, shift, scale, y, pool);
}

void f32_gated_residual__neon(size_t batch, size_t tokens, size_t dim, size_t param_stride,
                              const float* x, const float* gate, const float* r, float* y,
                              pthreadpool_t pool) {
  simd::GatedResidual<VecNeon>(batch, tokens, dim, param_stride, x, gate, r, y, pool);
}

}  // namespace edge
