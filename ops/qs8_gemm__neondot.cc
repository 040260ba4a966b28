// W8A8 GEMM tile, AArch64 dot product (SDOT): s8 x s8, no offsets. Each
// 16-byte weight vector is 4 columns x 4 k (the N16K4 layout), each
// activation vector 16 k of one row; vdotq_laneq_s32 picks the row's 4 k.
// Register tile 4 rows x 16 columns (16 accumulators).
#include <arm_neon.h>

#include <cstring>

#include "ops/quant_gemm_internal.h"

namespace edge {
namespace {

template <int MR>
void Micro(const QGemmArgs& a, size_t m, size_t n, size_t ncols) {
  const size_t Kp = RoundUp(a.K, 4);
  const int8_t* w = reinterpret_cast<const int8_t*>(a.w) + (n / 16) * 16 * Kp;
  const int8_t* x = reinterpret_cast<const int8_t*>(a.a) + m * a.lda;
  int32x4_t acc[MR][4];
  for (int r = 0; r < MR; ++r)
    for (int j = 0; j < 4; ++j) acc[r][j] = vdupq_n_s32(0);
  size_t k = 0;
  for (; k + 16 <= Kp; k += 16) {
    int8x16_t av[MR];
    for (int r = 0; r < MR; ++r) av[r] = vld1q_s8(x + r * a.lda + k);
    const int8_t* wk = w + k * 16;
    for (int j = 0; j < 4; ++j) {
      const int8x16_t w0 = vld1q_s8(wk + 16 * j), w1 = vld1q_s8(wk + 64 + 16 * j);
      const int8x16_t w2 = vld1q_s8(wk + 128 + 16 * j), w3 = vld1q_s8(wk + 192 + 16 * j);
      for (int r = 0; r < MR; ++r) {
        acc[r][j] = vdotq_laneq_s32(acc[r][j], w0, av[r], 0);
        acc[r][j] = vdotq_laneq_s32(acc[r][j], w1, av[r], 1);
        acc[r][j] = vdotq_laneq_s32(acc[r][j], w2, av[r], 2);
        acc[r][j] = vdotq_laneq_s32(acc[r][j], w3, av[r], 3);
      }
    }
  }
  for (; k < Kp; k += 4) {  // last groups of 4 k
    for (int r = 0; r < MR; ++r) {
      int32_t a4;
      std::memcpy(&a4, x + r * a.lda + k, 4);
      const int8x16_t av = vreinterpretq_s8_s32(vdupq_n_s32(a4));
      for (int j = 0; j < 4; ++j) acc[r][j] = vdotq_s32(acc[r][j], vld1q_s8(w + k * 16 + 16 * j), av);
    }
  }
  for (int r = 0; r < MR; ++r) {
    const float32x4_t sa = vdupq_n_f32(a.a_scale[m + r]);
    alignas(16) float out[16];
    for (int j = 0; j < 4; ++j) {
      const float32x4_t v = vmulq_f32(vcvtq_f32_s32(acc[r][j]), sa);
      vst1q_f32(out + 4 * j, vfmaq_f32(vld1q_f32(a.bias + n + 4 * j), v, vld1q_f32(a.w_scale + n + 4 * j)));
    }
    std::memcpy(a.y + (m + r) * a.ldy + n, out, (ncols < 16 ? ncols : 16) * sizeof(float));
  }
}

void Tile(const QGemmArgs& a, size_t m0, size_t mc, size_t n0, size_t nc) {
  for (size_t n = n0; n < n0 + nc; n += 16) {
    const size_t ncols = n0 + nc - n < 16 ? n0 + nc - n : 16;
    size_t m = m0;
    for (; m + 4 <= m0 + mc; m += 4) Micro<4>(a, m, n, ncols);
    switch (m0 + mc - m) {
      case 3: Micro<3>(a, m, n, ncols); break;
      case 2: Micro<2>(a, m, n, ncols); break;
      case 1: Micro<1>(a, m, n, ncols); break;
      default: break;
    }
  }
}

bool Supported(const CpuFeatures& f) { return f.dotprod; }

}  // namespace

const QGemmKernel kQs8GemmNeondot = {"qs8_gemm_4x16c4__neondot", Supported, {0, 0}, 4,
                                     QuantizeRowsNeon, Tile, 4, 16, false};

}  // namespace edge
