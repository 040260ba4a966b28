// AVX-512 VNNI INT8 attention tile (QVecAvx512<true> in
// ops/qs8_attention_tile.h): Q.K^T and P.V on vpdpwssd, 32 int16 products
// per instruction added in place. 4 query rows x 64 keys per S block (16
// int32 accumulators) and 4 rows x 16 channels per P.V block (the channel
// padding). Heads are packed by the AVX-512 packing (ops/qs8_attention__avx512.cc):
// the layouts are the same.
#include "ops/qs8_attention.h"
#include "ops/qs8_attention_tile.h"

namespace edge {

void qs8_attention_4x64__avx512vnni(const F32AttentionParams& p, const Qs8AttentionHead& head,
                                    size_t b, size_t h, size_t q0, size_t qn, float* scratch) {
  qs8_attention_tile<QVecAvx512<true>, 4, 4, 1>(p, head, b, h, q0, qn, scratch);
}

}  // namespace edge
