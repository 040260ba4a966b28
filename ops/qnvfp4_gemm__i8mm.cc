// W4A8 NVFP4 GEMM tile, AArch64 I8MM: nibbles -> signed 2*e2m1 with tbl;
// one vzip turns the 4-k halves of a line into 2-column x 8-k SMMLA
// operands; vmmlaq_s32 gives 2 rows x 2 columns per instruction. The block
// scale is applied in the same 2 x 2 layout ([s0 s1 s0 s1]) and the rows are
// unzipped at the end. Register tile 2 rows x 16 columns.
#include "ops/qnvfp4_gemm_neon_common.h"

namespace edge {
namespace {
using namespace qnvfp4_neon;

void Micro(const QGemmArgs& a, size_t m, size_t n, size_t ncols, size_t rows) {
  const size_t nbp = RoundUp(a.K, 16) / 16, nb = (a.K + 15) / 16;
  const uint8_t* w = a.w + (n / 16) * nbp * 128;
  const uint8_t* sc = a.w_scales + (n / 16) * nbp * 16;
  const int8_t* x0 = reinterpret_cast<const int8_t*>(a.a) + m * a.lda;
  const int8_t* x1 = rows > 1 ? x0 + a.lda : x0;
  const int8x16_t lut = Lut();
  float32x4_t f[8];  // column pairs (2j', 2j'+1) as [r0c0 r0c1 r1c0 r1c1]
  for (int j = 0; j < 8; ++j) f[j] = vdupq_n_f32(0.0f);
  for (size_t b = 0; b < nb; ++b) {
    int32x4_t acc[8];
    for (int j = 0; j < 8; ++j) acc[j] = vdupq_n_s32(0);
    for (int h = 0; h < 2; ++h) {
      int8x16_t lo[4], hi[4];
      DecodeLine(w + b * 128 + h * 64, lut, lo, hi);
      const size_t k = b * 16 + h * 8;
      const int8x16_t av = vcombine_s8(vld1_s8(x0 + k), vld1_s8(x1 + k));
      for (int j = 0; j < 4; ++j) {
        const int32x4_t l = vreinterpretq_s32_s8(lo[j]), u = vreinterpretq_s32_s8(hi[j]);
        acc[2 * j] = vmmlaq_s32(acc[2 * j], av, vreinterpretq_s8_s32(vzip1q_s32(l, u)));
        acc[2 * j + 1] = vmmlaq_s32(acc[2 * j + 1], av, vreinterpretq_s8_s32(vzip2q_s32(l, u)));
      }
    }
    float32x4_t s[4];
    DecodeScales16(sc + b * 16, s);
    for (int j = 0; j < 4; ++j) {
      const float32x4_t s01 = vcombine_f32(vget_low_f32(s[j]), vget_low_f32(s[j]));
      const float32x4_t s23 = vcombine_f32(vget_high_f32(s[j]), vget_high_f32(s[j]));
      f[2 * j] = vfmaq_f32(f[2 * j], vcvtq_f32_s32(acc[2 * j]), s01);
      f[2 * j + 1] = vfmaq_f32(f[2 * j + 1], vcvtq_f32_s32(acc[2 * j + 1]), s23);
    }
  }
  for (size_t h = 0; h < rows; ++h) {
    float32x4_t row[4];
    for (int j = 0; j < 4; ++j) {
      const float64x2_t t0 = vreinterpretq_f64_f32(f[2 * j]), t1 = vreinterpretq_f64_f32(f[2 * j + 1]);
      row[j] = vreinterpretq_f32_f64(h == 0 ? vzip1q_f64(t0, t1) : vzip2q_f64(t0, t1));
    }
    StoreRow(a, m + h, n, ncols, row);
  }
}

void Tile(const QGemmArgs& a, size_t m0, size_t mc, size_t n0, size_t nc) {
  for (size_t n = n0; n < n0 + nc; n += 16) {
    const size_t ncols = n0 + nc - n < 16 ? n0 + nc - n : 16;
    for (size_t m = m0; m < m0 + mc; m += 2) Micro(a, m, n, ncols, m0 + mc - m >= 2 ? 2 : 1);
  }
}

bool Supported(const CpuFeatures& f) { return f.i8mm && f.dotprod; }

}  // namespace

const QGemmKernel kQnvfp4GemmI8mm = {"qnvfp4_gemm_2x16c8__i8mm", Supported, {0, 0}, 16,
                                     QuantizeRowsNeon, Tile, 2, 16, false};

}  // namespace edge
