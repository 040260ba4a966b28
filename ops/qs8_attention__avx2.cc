// AVX2 INT8 attention tile: 4 query rows x 16 keys per S block and 4 rows x 16
// channels per P.V block (8 int32 accumulators: with 12, the vpmaddwd temporaries spill), on vpmaddwd.
#include "ops/qs8_attention.h"
#include "ops/qs8_attention_tile.h"

namespace edge {

namespace {
constexpr int kMR = 4;
constexpr size_t kQB = kMR * 16;
}  // namespace

void qs8_attention_4x64__avx2(const F32AttentionParams& p, const Qs8AttentionHead& head,
                              size_t b, size_t h, size_t q0, size_t qn, float* scratch) {
  qs8_attention_tile<QVecAvx2, kMR, 2, 2>(p, head, b, h, q0, qn, scratch);
}

Qs8AttentionHead qs8_attention_pack_head__avx2(const F32AttentionParams& p, size_t b, size_t h,
                                               void* mem) {
  return q8_pack_head<QVecAvx2>(p, b, h, mem);
}

size_t qs8_attention_scratch_floats__avx2(size_t head_dim) {
  return q8_attn_scratch_floats<kMR>(head_dim, kQB);
}

}  // namespace edge
