// W4A8 NVFP4 GEMM tile, AArch64 dot product: nibbles -> signed 2*e2m1 with
// tbl, SDOT per 4 k (s8 x s8, exact), one FMA per 16-k block with the E4M3
// scale. Register tile 2 rows x 16 columns.
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
    int32x4_t acc[MR][4];
    int8x16_t av[MR];
    for (int r = 0; r < MR; ++r) {
      av[r] = vld1q_s8(x + r * a.lda + b * 16);
      for (int j = 0; j < 4; ++j) acc[r][j] = vdupq_n_s32(0);
    }
    int8x16_t lo[4], hi[4];
    DecodeLine(w + b * 128, lut, lo, hi);
    for (int r = 0; r < MR; ++r)
      for (int j = 0; j < 4; ++j) {
        acc[r][j] = vdotq_laneq_s32(acc[r][j], lo[j], av[r], 0);
        acc[r][j] = vdotq_laneq_s32(acc[r][j], hi[j], av[r], 1);
      }
    DecodeLine(w + b * 128 + 64, lut, lo, hi);
    for (int r = 0; r < MR; ++r)
      for (int j = 0; j < 4; ++j) {
        acc[r][j] = vdotq_laneq_s32(acc[r][j], lo[j], av[r], 2);
        acc[r][j] = vdotq_laneq_s32(acc[r][j], hi[j], av[r], 3);
      }
    float32x4_t s[4];
    DecodeScales16(sc + b * 16, s);
    for (int r = 0; r < MR; ++r)
      for (int j = 0; j < 4; ++j) f[r][j] = vfmaq_f32(f[r][j], vcvtq_f32_s32(acc[r][j]), s[j]);
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

bool Supported(const CpuFeatures& f) { return f.dotprod; }

}  // namespace

const QGemmKernel kQnvfp4GemmNeondot = {"qnvfp4_gemm_2x16c4__neondot", Supported, {0, 0}, 16,
                                        QuantizeRowsNeon, Tile, 2, 16, false};

}  // namespace edge
