// AVX2+FMA attention tile: 6 query rows x 16 keys per S block and 6 rows x 16
// head channels per P.V block (12 ymm accumulators).
#include "ops/f32_attention.h"
#include "ops/f32_attention_tile.h"

namespace edge {

namespace {
constexpr int kMR = 6;
constexpr size_t kQB = kMR * 16;
}  // namespace

void f32_attention_6x64__avx2(const F32AttentionParams& p, size_t b, size_t h, size_t q0,
                              size_t qn, float* scratch) {
  attention_tile<VecAvx2, kMR, 2, 2>(p, b, h, q0, qn, scratch);
}

size_t f32_attention_scratch_floats__avx2(size_t head_dim) {
  return attn_scratch_floats<VecAvx2, kMR>(head_dim, kQB);
}

}  // namespace edge
