// Per-token activation quantizer, NEON (AArch64). Same bytes as
// QuantizeRowsRef: vcvtnq rounds to nearest even like nearbyint.
// AArch64 only (the intrinsics below do not exist on 32-bit ARM, which uses
// the scalar kernels); the build compiles *__neon.cc for both.
#if defined(__aarch64__)
#include <arm_neon.h>

#include <cstring>

#include "ops/quant_gemm_internal.h"

namespace edge {

void QuantizeRowsNeon(const float* x, size_t ldx, size_t rows, size_t K, size_t k_pad,
                      QActFormat fmt, uint8_t* q, size_t ldq, float* scale, int32_t* corr,
                      size_t ldcorr) {
  for (size_t m = 0; m < rows; ++m) {
    const float* row = x + m * ldx;
    float32x4_t vmax = vdupq_n_f32(0.0f);
    size_t k = 0;
    for (; k + 4 <= K; k += 4) vmax = vmaxq_f32(vmax, vabsq_f32(vld1q_f32(row + k)));
    float amax = vmaxvq_f32(vmax);
    for (; k < K; ++k) {
      const float a = row[k] < 0 ? -row[k] : row[k];
      amax = a > amax ? a : amax;
    }
    const float inv_s = amax > 0.0f ? 127.0f / amax : 0.0f;
    scale[m] = amax / 127.0f;
    const float32x4_t inv = vdupq_n_f32(inv_s);
    const uint8x16_t xor_v = vdupq_n_u8(fmt.xor_mask);
    uint8_t* qr = q + m * ldq;
    for (k = 0; k < k_pad; k += 16) {
      alignas(16) float buf[16];
      const size_t left = K > k ? (K - k < 16 ? K - k : 16) : 0;
      std::memset(buf, 0, sizeof(buf));
      std::memcpy(buf, row + k, left * sizeof(float));
      int32x4_t qi[4];
      for (int i = 0; i < 4; ++i) qi[i] = vcvtnq_s32_f32(vmulq_f32(vld1q_f32(buf + 4 * i), inv));
      const int16x8_t h0 = vcombine_s16(vqmovn_s32(qi[0]), vqmovn_s32(qi[1]));
      const int16x8_t h1 = vcombine_s16(vqmovn_s32(qi[2]), vqmovn_s32(qi[3]));
      const uint8x16_t b = veorq_u8(vreinterpretq_u8_s8(vcombine_s8(vqmovn_s16(h0), vqmovn_s16(h1))), xor_v);
      alignas(16) uint8_t tmp[16];
      vst1q_u8(tmp, b);
      std::memcpy(qr + k, tmp, k_pad - k < 16 ? k_pad - k : 16);
      if (fmt.corr_mul != 0) {
        const int32x4_t s = vaddq_s32(vaddq_s32(qi[0], qi[1]), vaddq_s32(qi[2], qi[3]));
        corr[m * ldcorr + k / 16] = fmt.corr_mul * vaddvq_s32(s);
      }
    }
  }
}

}  // namespace edge

#endif  // defined(__aarch64__)
