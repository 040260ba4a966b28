// The per-token activation quantizer of the quantized GEMMs, written once on
// the SIMD layer (ops/f32_vec.h) and instantiated by qs8_act_quantize__<isa>.cc.
// Same bytes as QuantizeRowsRef (ops/quant_gemm.h): the row's amax is exact in
// any order, x * (127 / amax) is one rounded product per element as there,
// the conversion rounds to nearest even as nearbyint does, and |q| <= 127
// needs no clamp (|x| <= amax), so the narrowing saturation never acts on a
// finite row.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "ops/f32_vec.h"
#include "ops/quant_gemm.h"

namespace edge {
namespace {

template <class D>
void QuantizeRowsSimd(const float* x, size_t ldx, size_t rows, size_t K, size_t k_pad,
                      QActFormat fmt, uint8_t* q, size_t ldq, float* scale, int32_t* corr,
                      size_t ldcorr) {
  constexpr size_t kW = static_cast<size_t>(D::kW);
  static_assert(16 % kW == 0, "a 16-element block is whole vectors");
  // The format's XOR on eight bytes at a time.
  const uint64_t xor8 = 0x0101010101010101ull * fmt.xor_mask;
  for (size_t m = 0; m < rows; ++m) {
    const float* row = x + m * ldx;
    typename D::V vmax = D::zero();
    size_t k = 0;
    for (; k + kW <= K; k += kW) vmax = D::max(vmax, D::abs(D::load(row + k)));
    if (k < K) vmax = D::max(vmax, D::abs(D::load_n(row + k, static_cast<int>(K - k))));
    const float amax = D::reduce_max(vmax);
    const float inv_s = amax > 0.0f ? 127.0f / amax : 0.0f;
    scale[m] = amax / 127.0f;
    const typename D::V inv = D::set1(inv_s);
    uint8_t* qr = q + m * ldq;
    // One 16-element block per step (the NVFP4 correction's block).
    for (k = 0; k < k_pad; k += 16) {
      alignas(16) int8_t block[16];
      typename D::I32 sum = D::zero_i32();
      for (size_t i = 0; i < 16; i += kW) {
        const size_t kk = k + i;
        const size_t left = K > kk ? K - kk : 0;  // past K: zeros
        const typename D::V v = left >= kW ? D::load(row + kk) : D::load_n(row + kk, static_cast<int>(left));
        const typename D::I32 qi = D::round_to_i32(D::mul(v, inv));
        D::store_i8_sat(block + i, qi);
        sum = D::add_i32(sum, qi);
      }
      if (fmt.corr_mul != 0) corr[m * ldcorr + k / 16] = fmt.corr_mul * D::reduce_add_i32(sum);
      if (fmt.int16_even_odd) {
        // int16 per element (little-endian, as the reference writes it),
        // every 4 as q0, q2, q1, q3.
        alignas(16) int16_t wide[16];
        for (int g = 0; g < 16; g += 4) {
          wide[g] = block[g];
          wide[g + 1] = block[g + 2];
          wide[g + 2] = block[g + 1];
          wide[g + 3] = block[g + 3];
        }
        std::memcpy(qr + 2 * k, wide, 2 * (k_pad - k < 16 ? k_pad - k : 16));
        continue;
      }
      uint64_t half[2];
      std::memcpy(half, block, 16);
      half[0] ^= xor8;
      half[1] ^= xor8;
      std::memcpy(qr + k, half, k_pad - k < 16 ? k_pad - k : 16);
    }
  }
}

}  // namespace
}  // namespace edge
