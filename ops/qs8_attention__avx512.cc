// AVX-512BW INT8 attention tile (QVecAvx512<false> in
// ops/qs8_attention_tile.h): the AVX2 tile's integers on 512-bit vectors,
// vpmaddwd + vpaddd (CPUs without VNNI). 4 query rows x 64 keys per S block
// (16 int32 accumulators) and 4 rows x 16 channels per P.V block. Also the
// head packing of both AVX-512 tiles.
#include "ops/qs8_attention.h"
#include "ops/qs8_attention_tile.h"

namespace edge {

namespace {
constexpr int kMR = 4;
constexpr size_t kQB = kMR * 16;
}  // namespace

void qs8_attention_4x64__avx512bw(const F32AttentionParams& p, const Qs8AttentionHead& head,
                                  size_t b, size_t h, size_t q0, size_t qn, float* scratch) {
  qs8_attention_tile<QVecAvx512<false>, kMR, 4, 1>(p, head, b, h, q0, qn, scratch);
}

Qs8AttentionHead qs8_attention_pack_head__avx512(const F32AttentionParams& p, size_t b, size_t h,
                                                 void* mem) {
  return q8_pack_head<QVecAvx512<false>>(p, b, h, mem);
}

size_t qs8_attention_scratch_floats__avx512(size_t head_dim) {
  return q8_attn_scratch_floats<kMR>(head_dim, kQB);
}

}  // namespace edge
