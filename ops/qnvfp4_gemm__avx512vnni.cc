// W4A8 NVFP4 GEMM, AVX-512 VNNI: one vpdpbusd per 4 k (u8 weights x s8 activations).
#include "ops/qnvfp4_gemm_avx512_impl.h"

namespace edge {
namespace {

struct DotVnni {
  static inline __m512i Apply(__m512i acc, __m512i w_u8, __m512i a_s8) {
    return _mm512_dpbusd_epi32(acc, w_u8, a_s8);
  }
};

bool Supported(const CpuFeatures& f) { return f.avx512f && f.avx512bw && f.avx512vl && f.avx512vnni; }

}  // namespace

const QGemmKernel kQnvfp4GemmAvx512vnni = {"qnvfp4_gemm_6x32c8__avx512vnni", Supported, {0, -12},
                                           16, QuantizeRowsAvx512, qnvfp4_avx512::Tile<DotVnni>,
                                           qnvfp4_avx512::kMR, 16 * qnvfp4_avx512::kNP, false};

}  // namespace edge
