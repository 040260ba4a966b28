// W4A8 NVFP4 GEMM, AVX2 + FMA: vpmaddubsw (u8 weights in [0, 24] x s8
// activations: pair sums <= 6096, no saturation) + vpmaddwd.
#include "ops/qnvfp4_gemm_avx2_impl.h"

namespace edge {
namespace {

struct DotAvx2 {
  static inline __m256i Apply(__m256i acc, __m256i w_u8, __m256i a_s8) {
    const __m256i p16 = _mm256_maddubs_epi16(w_u8, a_s8);
    return _mm256_add_epi32(acc, _mm256_madd_epi16(p16, _mm256_set1_epi16(1)));
  }
};

bool Supported(const CpuFeatures& f) { return f.avx2 && f.fma; }

}  // namespace

const QGemmKernel kQnvfp4GemmAvx2 = {"qnvfp4_gemm_4x8c8__avx2", Supported, {0, -12}, 16,
                                     QuantizeRowsAvx2, qnvfp4_avx2::Tile<DotAvx2>,
                                     qnvfp4_avx2::kMR, 16, false};

}  // namespace edge
