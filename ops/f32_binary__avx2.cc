// avx2 instantiation of the binary kernel (ops/f32_binary_simd.h).
#include "ops/vec_math_avx2.h"
#include "ops/f32_binary_simd.h"

namespace edge {

void f32_vbinary__avx2(BinaryOp op, size_t n, const float* a, bool a_scalar, const float* b,
                       bool b_scalar, float* out) {
  simd::VBinary<avx2::V>(op, n, a, a_scalar, b, b_scalar, out);
}

}  // namespace edge
