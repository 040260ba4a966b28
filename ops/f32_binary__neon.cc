// NEON instantiation of the binary kernel (ops/f32_binary_simd.h).
// Built for AArch64 and for AArch32 with -mfpu=neon-vfpv4 (ops/CMakeLists.txt).
#include "ops/f32_vec.h"
#include "ops/f32_binary_simd.h"

namespace edge {

void f32_vbinary__neon(BinaryOp op, size_t n, const float* a, bool a_scalar, const float* b,
                       bool b_scalar, float* out) {
  simd::VBinary<VecNeon>(op, n, a, a_scalar, b, b_scalar, out);
}

}  // namespace edge
