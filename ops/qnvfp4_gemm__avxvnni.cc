// W4A8 NVFP4 GEMM, AVX-VNNI: one VEX vpdpbusd per 4 k.
#include "ops/qnvfp4_gemm_avx2_impl.h"

namespace edge {
namespace {

struct DotAvxVnni {
  static inline __m256i Apply(__m256i acc, __m256i w_u8, __m256i a_s8) {
    return _mm256_dpbusd_avx_epi32(acc, w_u8, a_s8);
  }
};

bool Supported(const CpuFeatures& f) { return f.avxvnni && f.avx2 && f.fma; }

}  // namespace

const QGemmKernel kQnvfp4GemmAvxvnni = {"qnvfp4_gemm_4x8c8__avxvnni", Supported, {0, -12}, 16,
                                        QuantizeRowsAvx2, qnvfp4_avx2::Tile<DotAvxVnni>,
                                        qnvfp4_avx2::kMR, 16, false};

}  // namespace edge
