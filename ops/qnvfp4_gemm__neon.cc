// W4A8 NVFP4 GEMM tile, NEON (AArch64, no dot product): nibbles -> signed
// 2*e2m1 with tbl; vmull_s8 / vmlal_s8 accumulate a 16-k block in int16
// (each lane sums 4 products, |sum| <= 4 * 127 * 12, exact), then pairwise
// adds give one int32 per column and one FMA applies the block scale.
// Register tile 2 rows x 16 columns.
// AArch64 only (the intrinsics used do not exist on 32-bit ARM, which uses
// the scalar kernels); the build compiles *__neon.cc for both.
#if defined(__aarch64__)
#include "ops/qnvfp4_gemm_neon_common.h"

namespace edge {
namespace {
using namespace qnvfp4_neon;

template <int MR>
void Micro(const QGemmArgs& a, size_t m, size_t n, size_t ncols) {
  const size_t nbp = RoundUp(a.K, 16) / 16, nb = (a.K + 15) / 16;
  const uint8_t* w = a.w + (n / 16) * nbp * 128;
  const uint8_t* sc = a.w_scales + (n / 16) * nbp * 16;
  const int8_t* x = reinterpret_cast<const int8_t*>(a.a) + m * a.lda;
  const int8x16_t lut = Lut();
  float32x4_t f[MR][4];
  for (int r = 0; r < MR; ++r)
    for (int j = 0; j < 4; ++j) f[r][j] = vdupq_n_f32(0.0f);
  for (size_t b = 0; b < nb; ++b) {
    int16x8_t lo16[MR][4], hi16[MR][4];  // columns (4j, 4j+1) and (4j+2, 4j+3)
    for (int r = 0; r < MR; ++r)
      for (int j = 0; j < 4; ++j) lo16[r][j] = hi16[r][j] = vdupq_n_s16(0);
    for (int h = 0; h < 2; ++h) {
      int8x16_t wl[4], wh[4];
      DecodeLine(w + b * 128 + h * 64, lut, wl, wh);
      for (int r = 0; r < MR; ++r) {
        int32_t a0, a1;
        std::memcpy(&a0, x + r * a.lda + b * 16 + h * 8, 4);
        std::memcpy(&a1, x + r * a.lda + b * 16 + h * 8 + 4, 4);
        const int8x16_t v0 = vreinterpretq_s8_s32(vdupq_n_s32(a0));
        const int8x16_t v1 = vreinterpretq_s8_s32(vdupq_n_s32(a1));
        for (int j = 0; j < 4; ++j) {
          lo16[r][j] = vmlal_s8(lo16[r][j], vget_low_s8(wl[j]), vget_low_s8(v0));
          hi16[r][j] = vmlal_high_s8(hi16[r][j], wl[j], v0);
          lo16[r][j] = vmlal_s8(lo16[r][j], vget_low_s8(wh[j]), vget_low_s8(v1));
          hi16[r][j] = vmlal_high_s8(hi16[r][j], wh[j], v1);
        }
      }
    }
    float32x4_t s[4];
    DecodeScales16(sc + b * 16, s);
    for (int r = 0; r < MR; ++r)
      for (int j = 0; j < 4; ++j) {
        const int32x4_t c = vpaddq_s32(vpaddlq_s16(lo16[r][j]), vpaddlq_s16(hi16[r][j]));
        f[r][j] = vfmaq_f32(f[r][j], vcvtq_f32_s32(c), s[j]);
      }
  }
  for (int r = 0; r < MR; ++r) StoreRow(a, m + r, n, ncols, f[r]);
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

const QGemmKernel kQnvfp4GemmNeon = {"qnvfp4_gemm_2x16c4__neon", Supported, {0, 0}, 16,
                                     QuantizeRowsNeon, Tile, 2, 16, false};

}  // namespace edge

#endif  // defined(__aarch64__)
