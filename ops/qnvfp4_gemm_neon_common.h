// Helpers shared by the AArch64 NVFP4 tiles (plain NEON, valid under every
// ARM file's flags). Included only by *__neon*.cc / *__i8mm.cc files.
#pragma once

#include <arm_neon.h>

#include <cstring>

#include "ops/quant_gemm_internal.h"

namespace edge {
namespace {
namespace qnvfp4_neon {

// 2 * e2m1 for codes 0..15, signed (SDOT/SMMLA multiply s8 x s8: no offset).
inline int8x16_t Lut() {
  static const int8_t kLut[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};
  return vld1q_s8(kLut);
}

// 4 E4M3 bytes (0x00..0x7E) in u32 lanes to FP32, exact, without reading
// subnormal floats: normals by bit placement + rebias, subnormals as m * 2^-9.
inline float32x4_t DecodeE4M3(uint32x4_t v) {
  const uint32x4_t bits = vaddq_u32(vshlq_n_u32(v, 20), vdupq_n_u32(120u << 23));
  const float32x4_t sub = vmulq_n_f32(vcvtq_f32_u32(v), 1.0f / 512.0f);
  return vbslq_f32(vcltq_u32(v, vdupq_n_u32(8)), sub, vreinterpretq_f32_u32(bits));
}

// The 16 block scales of one panel block, columns 4j..4j+3 in out[j].
inline void DecodeScales16(const uint8_t* p, float32x4_t out[4]) {
  const uint8x16_t v = vld1q_u8(p);
  const uint16x8_t l = vmovl_u8(vget_low_u8(v)), h = vmovl_high_u8(v);
  out[0] = DecodeE4M3(vmovl_u16(vget_low_u16(l)));
  out[1] = DecodeE4M3(vmovl_high_u16(l));
  out[2] = DecodeE4M3(vmovl_u16(vget_low_u16(h)));
  out[3] = DecodeE4M3(vmovl_high_u16(h));
}

// Decodes line h of block b of a panel: lo[j] = columns 4j..4j+3 x k 0..3 of
// the half-block, hi[j] = the same columns x k 4..7.
inline void DecodeLine(const uint8_t* line, int8x16_t lut, int8x16_t lo[4], int8x16_t hi[4]) {
  const uint8x16_t m4 = vdupq_n_u8(0x0F);
  for (int j = 0; j < 4; ++j) {
    const uint8x16_t raw = vld1q_u8(line + 16 * j);
    lo[j] = vqtbl1q_s8(lut, vandq_u8(raw, m4));
    hi[j] = vqtbl1q_s8(lut, vshrq_n_u8(raw, 4));
  }
}

inline void StoreRow(const QGemmArgs& a, size_t m, size_t n, size_t ncols, const float32x4_t f[4]) {
  const float32x4_t rs = vdupq_n_f32(a.a_scale[m] * a.tensor_half);
  alignas(16) float out[16];
  for (int j = 0; j < 4; ++j) vst1q_f32(out + 4 * j, vfmaq_f32(vld1q_f32(a.bias + n + 4 * j), f[j], rs));
  std::memcpy(a.y + m * a.ldy + n, out, (ncols < 16 ? ncols : 16) * sizeof(float));
}

}  // namespace qnvfp4_neon
}  // namespace
}  // namespace edge
