// W8A8 GEMM tile, NEON (AArch64, no dot product): s8 x s8 with vmull_s8
// (exact int16 products) and vpadalq_s16 (pairwise into int32). For each 16
// weight bytes (4 columns x 4 k) the low half (columns 0, 1) and the high
// half (columns 2, 3) accumulate separately as (k0+k1, k2+k3) lane pairs;
// vpaddq joins them into 4 columns at the end. Register tile 2 rows x 16
// columns (16 accumulators).
// AArch64 only (the intrinsics below do not exist on 32-bit ARM, which uses
// the scalar kernels); the build compiles *__neon.cc for both.
#if defined(__aarch64__)
#include <arm_neon.h>

#include <cstring>

#include "ops/quant_gemm_internal.h"

namespace edge {
namespace {

template <int MR>
void Micro(const QGemmArgs& a, size_t m, size_t n, size_t ncols) {
  const size_t Kp = RoundUp(a.K, 4);
  const int8_t* w = reinterpret_cast<const int8_t*>(a.w) + (n / 16) * 16 * Kp;
  int32x4_t lo[MR][4], hi[MR][4];
  for (int r = 0; r < MR; ++r)
    for (int j = 0; j < 4; ++j) lo[r][j] = hi[r][j] = vdupq_n_s32(0);
  for (size_t k = 0; k < Kp; k += 4) {
    int8x16_t wv[4];
    for (int j = 0; j < 4; ++j) wv[j] = vld1q_s8(w + k * 16 + 16 * j);
    for (int r = 0; r < MR; ++r) {
      int32_t a4;
      std::memcpy(&a4, a.a + (m + r) * a.lda + k, 4);
      const int8x16_t av = vreinterpretq_s8_s32(vdupq_n_s32(a4));
      for (int j = 0; j < 4; ++j) {
        lo[r][j] = vpadalq_s16(lo[r][j], vmull_s8(vget_low_s8(wv[j]), vget_low_s8(av)));
        hi[r][j] = vpadalq_s16(hi[r][j], vmull_high_s8(wv[j], av));
      }
    }
  }
  for (int r = 0; r < MR; ++r) {
    const float32x4_t sa = vdupq_n_f32(a.a_scale[m + r]);
    alignas(16) float out[16];
    for (int j = 0; j < 4; ++j) {
      const int32x4_t s = vpaddq_s32(lo[r][j], hi[r][j]);  // columns 4j..4j+3
      const float32x4_t v = vmulq_f32(vcvtq_f32_s32(s), sa);
      vst1q_f32(out + 4 * j, vfmaq_f32(vld1q_f32(a.bias + n + 4 * j), v, vld1q_f32(a.w_scale + n + 4 * j)));
    }
    std::memcpy(a.y + (m + r) * a.ldy + n, out, (ncols < 16 ? ncols : 16) * sizeof(float));
  }
}

void Tile(const QGemmArgs& a, size_t m0, size_t mc, size_t n0, size_t nc) {
  for (size_t n = n0; n < n0 + nc; n += 16) {
    const size_t ncols = n0 + nc - n < 16 ? n0 + nc - n : 16;
    size_t m = m0;
    for (; m + 2 <= m0 + mc; m += 2) Micro<2>(a, m, n, ncols);
    if (m < m0 + mc) Micro<1>(a, m, n, ncols);
  }
}

bool Supported(const CpuFeatures& f) { return f.neon; }

}  // namespace

const QGemmKernel kQs8GemmNeon = {"qs8_gemm_2x16c4__neon", Supported, {0, 0}, 4, QuantizeRowsNeon,
                                  Tile, 2, 16, false};

}  // namespace edge

#endif  // defined(__aarch64__)
