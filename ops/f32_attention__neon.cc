// AArch64 NEON attention tile: 4 query rows x 16 keys per S block and 4 rows
// x 16 head channels per P.V block (16 float32x4 accumulators). AArch32 NEON
// has no vector FMA reduction helpers used here: it keeps the portable tile.
#if defined(__aarch64__)
#include "ops/f32_attention.h"
#include "ops/f32_attention_tile.h"

namespace edge {

namespace {
constexpr int kMR = 4;
constexpr size_t kQB = kMR * 16;
}  // namespace

void f32_attention_4x64__neon(const F32AttentionParams& p, size_t b, size_t h, size_t q0,
                              size_t qn, float* scratch) {
  attention_tile<VecNeon, kMR, 4, 4>(p, b, h, q0, qn, scratch);
}

size_t f32_attention_scratch_floats__neon(size_t head_dim) {
  return attn_scratch_floats<VecNeon, kMR>(head_dim, kQB);
}

}  // namespace edge
#endif
