// W8A8 GEMM tile, AArch64 I8MM (SMMLA): each vmmlaq_s32 multiplies a 2-row
// x 8-k block of activations by an 8-k x 2-column block of weights into a
// 2 x 2 int32 tile [r0c0, r0c1, r1c0, r1c1]. The 2-column x 8-k weight
// vectors come from two N16K4 groups with one vzip per vector. Register
// tile 4 rows x 16 columns (16 accumulators). K is walked in steps of 8; an
// odd last group of 4 is zipped with zeros (activations are padded to 8).
#include <arm_neon.h>

#include <cstring>

#include "ops/quant_gemm_internal.h"

namespace edge {
namespace {

template <int MP>  // row pairs
void Micro(const QGemmArgs& a, size_t m, size_t n, size_t ncols, size_t rows) {
  const size_t Kp = RoundUp(a.K, 4);
  const int8_t* w = reinterpret_cast<const int8_t*>(a.w) + (n / 16) * 16 * Kp;
  const int8_t* x = reinterpret_cast<const int8_t*>(a.a) + m * a.lda;
  int32x4_t acc[MP][8];
  for (int p = 0; p < MP; ++p)
    for (int j = 0; j < 8; ++j) acc[p][j] = vdupq_n_s32(0);
  for (size_t k = 0; k < Kp; k += 8) {
    int8x16_t av[MP];
    for (int p = 0; p < MP; ++p) {
      // Row 2p+1 may not exist (odd row count): reuse row 2p, drop it later.
      const int8_t* r0 = x + (2 * p) * a.lda + k;
      const int8_t* r1 = (2 * p + 1 < static_cast<int>(rows)) ? r0 + a.lda : r0;
      av[p] = vcombine_s8(vld1_s8(r0), vld1_s8(r1));
    }
    const bool has_second = k + 4 < Kp;
    for (int j = 0; j < 4; ++j) {
      const int32x4_t g0 = vreinterpretq_s32_s8(vld1q_s8(w + k * 16 + 16 * j));
      const int32x4_t g1 = has_second ? vreinterpretq_s32_s8(vld1q_s8(w + (k + 4) * 16 + 16 * j))
                                      : vdupq_n_s32(0);
      const int8x16_t b01 = vreinterpretq_s8_s32(vzip1q_s32(g0, g1));  // columns 4j, 4j+1
      const int8x16_t b23 = vreinterpretq_s8_s32(vzip2q_s32(g0, g1));  // columns 4j+2, 4j+3
      for (int p = 0; p < MP; ++p) {
        acc[p][2 * j] = vmmlaq_s32(acc[p][2 * j], av[p], b01);
        acc[p][2 * j + 1] = vmmlaq_s32(acc[p][2 * j + 1], av[p], b23);
      }
    }
  }
  for (int p = 0; p < MP; ++p) {
    for (int h = 0; h < 2; ++h) {
      const size_t r = 2 * p + h;
      if (r >= rows) break;
      const float32x4_t sa = vdupq_n_f32(a.a_scale[m + r]);
      alignas(16) float out[16];
      for (int j = 0; j < 4; ++j) {
        const int64x2_t t0 = vreinterpretq_s64_s32(acc[p][2 * j]);
        const int64x2_t t1 = vreinterpretq_s64_s32(acc[p][2 * j + 1]);
        const int32x4_t s = vreinterpretq_s32_s64(h == 0 ? vzip1q_s64(t0, t1) : vzip2q_s64(t0, t1));
        const float32x4_t v = vmulq_f32(vcvtq_f32_s32(s), sa);
        vst1q_f32(out + 4 * j, vfmaq_f32(vld1q_f32(a.bias + n + 4 * j), v, vld1q_f32(a.w_scale + n + 4 * j)));
      }
      std::memcpy(a.y + (m + r) * a.ldy + n, out, (ncols < 16 ? ncols : 16) * sizeof(float));
    }
  }
}

void Tile(const QGemmArgs& a, size_t m0, size_t mc, size_t n0, size_t nc) {
  for (size_t n = n0; n < n0 + nc; n += 16) {
    const size_t ncols = n0 + nc - n < 16 ? n0 + nc - n : 16;
    size_t m = m0;
    for (; m + 4 <= m0 + mc; m += 4) Micro<2>(a, m, n, ncols, 4);
    if (m < m0 + mc) {
      const size_t left = m0 + mc - m;
      if (left > 2) Micro<2>(a, m, n, ncols, left);
      else Micro<1>(a, m, n, ncols, left);
    }
  }
}

bool Supported(const CpuFeatures& f) { return f.i8mm && f.dotprod; }

}  // namespace

const QGemmKernel kQs8GemmI8mm = {"qs8_gemm_4x16c8__i8mm", Supported, {0, 0}, 8, QuantizeRowsNeon,
                                  Tile, 4, 16, false};

}  // namespace edge
