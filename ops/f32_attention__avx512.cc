// AVX-512 attention tile: 6 query rows x 64 keys per S block (24 zmm
// accumulators), 6 rows x 64 head channels per P.V block.
#include "ops/f32_attention.h"
#include "ops/f32_attention_tile.h"

namespace edge {

namespace {
constexpr int kMR = 6;
constexpr size_t kQB = kMR * 16;
}  // namespace

void f32_attention_6x64__avx512(const F32AttentionParams& p, size_t b, size_t h, size_t q0,
                                size_t qn, float* scratch) {
  attention_tile<VecAvx512, kMR, 4, 4>(p, b, h, q0, qn, scratch);
}

size_t f32_attention_scratch_floats__avx512(size_t head_dim) {
  return attn_scratch_floats<VecAvx512, kMR>(head_dim, kQB);
}

}  // namespace edge
