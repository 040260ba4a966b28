// W4A8 NVFP4 GEMM, AVX-512BW without VNNI: vpmaddubsw (u8 weights in
// [0, 24] x s8 activations: pair sums <= 6096, no saturation) + vpmaddwd.
#include "ops/qnvfp4_gemm_avx512_impl.h"

namespace edge {
namespace {

struct DotBw {
  static inline __m512i Apply(__m512i acc, __m512i w_u8, __m512i a_s8) {
    const __m512i p16 = _mm512_maddubs_epi16(w_u8, a_s8);
    return _mm512_add_epi32(acc, _mm512_madd_epi16(p16, _mm512_set1_epi16(1)));
  }
};

bool Supported(const CpuFeatures& f) { return f.avx512f && f.avx512bw && f.avx512vl; }

}  // namespace

const QGemmKernel kQnvfp4GemmAvx512 = {"qnvfp4_gemm_6x32c8__avx512bw", Supported, {0, -12}, 16,
                                       QuantizeRowsAvx512, qnvfp4_avx512::Tile<DotBw>,
                                       qnvfp4_avx512::kMR, 16 * qnvfp4_avx512::kNP, false};

}  // namespace edge
