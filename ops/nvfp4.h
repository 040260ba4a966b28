// NVFP4 numerics: E2M1 elements, E4M3 (FN) block scales, FP32 tensor scale.
//
// Weight w[N, K] (row-major, K = reduction axis) is stored as
//   codes  [N, ceil(K/2)]   two E2M1 codes per byte, even k in the low nibble
//   scales [N, ceil(K/16)]  one E4M3 byte per 16 consecutive k of a row
//   g_dec                   FP32 tensor scale
// and decodes as w ~= e2m1(code) * e4m3(scale) * g_dec.
//
// Rounding everywhere is round-to-nearest, ties to the even code (RNE). All
// arithmetic is FP32 in a fixed order so that every build produces the same
// bytes (the converter runs this offline).
#pragma once

#include <cstddef>
#include <cstdint>

namespace edge {

constexpr int kNvfp4BlockSize = 16;
constexpr float kE4M3Max = 448.0f;
constexpr float kE2M1Max = 6.0f;

// E2M1 code (0..15, bit 3 = sign) of x, RNE. |x| > 6 saturates to 6; NaN
// gives 0. A value that rounds to zero gives code 0 (never -0 = code 8).
// Decision points on |x|: 0.25 0.75 1.25 1.75 2.5 3.5 5 (ties to even code).
uint8_t E2M1Encode(float x);
// Magnitudes {0, .5, 1, 1.5, 2, 3, 4, 6}, code 8..15 negative.
float E2M1Decode(uint8_t code);
// 2 * e2m1(code) as an exact integer in [-12, 12] (the integer trick).
extern const int8_t kE2M1Times2[16];

// E4M3 "FN" (no infinities; 0x7F/0xFF are NaN): bias 7, max 448, subnormals
// m * 2^-9. RNE; finite values beyond 448 (and +-Inf) saturate to +-448.
// NaN encodes as 0x7F.
uint8_t E4M3Encode(float x);
float E4M3Decode(uint8_t code);
// All 256 decodings (NaN for 0x7F / 0xFF).
const float* E4M3Table();

// Tensor scales of the reference quantizer for a tensor whose largest
// magnitude is `amax`: g_enc = 448*6/amax (1 if amax = 0), g_dec = 1/g_enc.
void Nvfp4TensorScales(float amax, float* g_enc, float* g_dec);

// Quantizes w[N, K] (row stride ldw floats). Returns false (writing nothing
// meaningful) if any value is NaN or infinite. Per block of 16 (the last one
// of a row may be short; its missing elements count as 0):
//   s_b = e4m3(amax_b / 6 * g_enc); q = RNE_e2m1(x / (float(s_b) * g_dec)),
// with q = 0 for every element when float(s_b) == 0.
// codes: N * ceil(K/2) bytes (unused high nibble of an odd row = 0);
// scales: N * ceil(K/16) bytes; *tensor_scale = g_dec.
bool Nvfp4Quantize(const float* w, size_t N, size_t K, size_t ldw, uint8_t* codes,
                   uint8_t* scales, float* tensor_scale);

// The same encoding (same tensor scale, same layout, read by the same
// kernels), but each block's E4M3 scale is the one of least squared error
// among the candidates: the reference scale e4m3(amax_b / 6 * g_enc), every
// finite E4M3 value within a factor kNvfp4SearchRange of amax_b / 6 * g_enc
// (both ways) and the smallest subnormal. Smaller scales clip the block's largest values to +-6 to resolve the
// rest finer; larger ones may land the largest value on a code exactly. The
// error is measured on the decoded values the runtime computes, in double;
// a candidate replaces the reference only when strictly better (ties keep
// the reference, then the smaller scale), so no block's error ever exceeds the reference
// quantizer's and the result is deterministic. For the converter (offline):
// about 2 * 8 * log2(range) + 1 candidate encodings per block.
constexpr float kNvfp4SearchRange = 2.0f;
bool Nvfp4QuantizeSearch(const float* w, size_t N, size_t K, size_t ldw, uint8_t* codes,
                         uint8_t* scales, float* tensor_scale);

// The E4M3 scale code the quantizers give one block x[0..n) (n <= 16) under
// the tensor scales g_enc / g_dec: Nvfp4Quantize's amax/6 rule (search
// false) or Nvfp4QuantizeSearch's least squared error (true). For callers
// that choose codes themselves (the converter's error-feedback rounding).
uint8_t Nvfp4BlockScale(const float* x, size_t n, float g_enc, float g_dec, bool search);
// E2M1 code of x in a block of E4M3 scale code sb, as the quantizers round
// it (0 when the scale decodes to 0).
uint8_t Nvfp4Code(float x, uint8_t sb, float g_dec);

// Squared error, in double, of one block x[0..n) (n <= 16) encoded with E4M3
// scale code `sb` under tensor scale g_dec, as the runtime decodes it.
double Nvfp4BlockError(const float* x, size_t n, uint8_t sb, float g_dec);

// w[n, k] = (e2m1(code) * e4m3(scale)) * tensor_scale, for all N x K.
void Nvfp4Dequantize(const uint8_t* codes, const uint8_t* scales, float tensor_scale, size_t N,
                     size_t K, float* w, size_t ldw);

// Code of element k of row n in a row-major code array.
inline uint8_t Nvfp4CodeAt(const uint8_t* codes, size_t K, size_t n, size_t k) {
  const uint8_t b = codes[n * ((K + 1) / 2) + k / 2];
  return (k & 1) ? (b >> 4) : (b & 15);
}

}  // namespace edge
