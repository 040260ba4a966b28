// avx512 instantiation of the binary kernel (ops/f32_binary_simd.h).
#include "ops/f32_vec.h"
#include "ops/f32_binary_simd.h"

namespace edge {

void f32_vbinary__avx512(BinaryOp op, size_t n, const float* a, bool a_scalar, const float* b,
                       bool b_scalar, float* out) {
  simd::VBinary<VecAvx512>(op, n, a, a_scalar, b, b_scalar, out);
}

}  // namespace edge
