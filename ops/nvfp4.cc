#include "ops/nvfp4.h"

#include <cmath>
#include <cstring>

namespace edge {

const int8_t kE2M1Times2[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

uint8_t E2M1Encode(float x) {
  if (std::isnan(x)) return 0;
  const float a = std::fabs(x);
  // Explicit decision points: "<=" where the tie goes down to the even code,
  // "<" where it goes up (codes 0,2,4,6 are even: 0, 1.0, 2.0, 4.0).
  uint8_t c;
  if (a <= 0.25f) c = 0;
  else if (a < 0.75f) c = 1;
  else if (a <= 1.25f) c = 2;
  else if (a < 1.75f) c = 3;
  else if (a <= 2.5f) c = 4;
  else if (a < 3.5f) c = 5;
  else if (a <= 5.0f) c = 6;
  else c = 7;
  if (c != 0 && std::signbit(x)) c |= 8;
  return c;
}

float E2M1Decode(uint8_t code) { return 0.5f * kE2M1Times2[code & 15]; }

uint8_t E4M3Encode(float x) {
  if (std::isnan(x)) return 0x7F;
  const uint8_t sign = std::signbit(x) ? 0x80 : 0;
  float a = std::fabs(x);
  if (a >= kE4M3Max) return sign | 0x7E;  // saturate (also +-Inf)
  if (a < 0.015625f) {                      // below 2^-6: subnormal grid m * 2^-9
    // Exact scaling by a power of two, then RNE (default rounding mode).
    const int m = static_cast<int>(std::nearbyint(a * 512.0f));
    return sign | static_cast<uint8_t>(m);  // m == 8 is the smallest normal, code 0x08
  }
  int e2;
  const float f = std::frexp(a, &e2);  // a = f * 2^e2, f in [0.5, 1)
  int e = e2 - 1;                      // a = (2f) * 2^e, 2f in [1, 2)
  int m = static_cast<int>(std::nearbyint((2.0f * f - 1.0f) * 8.0f));  // exact, then RNE
  if (m == 8) {
    m = 0;
    ++e;
  }
  const int be = e + 7;
  if (be > 15 || (be == 15 && m == 7)) return sign | 0x7E;  // rounded past 448
  return sign | static_cast<uint8_t>((be << 3) | m);
}

namespace {
struct E4M3Lut {
  float v[256];
  E4M3Lut() {
    for (int c = 0; c < 256; ++c) {
      const int e = (c >> 3) & 15, m = c & 7;
      float a;
      if (e == 15 && m == 7) a = NAN;
      else if (e == 0) a = std::ldexp(static_cast<float>(m), -9);
      else a = std::ldexp(1.0f + m / 8.0f, e - 7);
      v[c] = (c & 0x80) ? -a : a;
    }
  }
};
const E4M3Lut& Lut() {
  static const E4M3Lut lut;
  return lut;
}
}  // namespace

const float* E4M3Table() { return Lut().v; }
float E4M3Decode(uint8_t code) { return Lut().v[code]; }

void Nvfp4TensorScales(float amax, float* g_enc, float* g_dec) {
  const float enc = amax > 0.0f ? (kE4M3Max * kE2M1Max) / amax : 1.0f;
  *g_enc = enc;
  *g_dec = 1.0f / enc;
}

namespace {

// Finite, non-NaN check and the tensor amax; false on NaN/Inf.
bool TensorAmax(const float* w, size_t N, size_t K, size_t ldw, float* amax) {
  float a = 0.0f;
  for (size_t n = 0; n < N; ++n) {
    for (size_t k = 0; k < K; ++k) {
      const float v = w[n * ldw + k];
      if (!std::isfinite(v)) return false;
      a = std::fmax(a, std::fabs(v));
    }
  }
  *amax = a;
  return true;
}

float BlockAmax(const float* x, size_t n) {
  float a = 0.0f;
  for (size_t k = 0; k < n; ++k) a = std::fmax(a, std::fabs(x[k]));
  return a;
}

// E2M1 code of x under the block divisor denom (= e4m3(s_b) * g_dec), as the
// reference quantizer rounds it; 0 when the divisor is 0.
uint8_t CodeOf(float x, float denom) {
  if (denom == 0.0f) return 0;
  float q = x / denom;
  q = std::fmin(std::fmax(q, -kE2M1Max), kE2M1Max);
  return E2M1Encode(q);
}

// The E4M3 scale code chosen for one block x[0..n).
using ScaleRule = uint8_t (*)(const float* x, size_t n, float g_enc, float g_dec);

uint8_t AmaxRule(const float* x, size_t n, float g_enc, float) {
  return E4M3Encode(BlockAmax(x, n) / kE2M1Max * g_enc);
}

uint8_t SearchRule(const float* x, size_t n, float g_enc, float g_dec) {
  const float amax = BlockAmax(x, n);
  const uint8_t ref = E4M3Encode(amax / kE2M1Max * g_enc);
  if (amax == 0.0f) return ref;  // all zeros: exact with scale 0
  double best = Nvfp4BlockError(x, n, ref, g_dec);
  uint8_t best_code = ref;
  if (best == 0.0) return ref;
  // Window around the unrounded ideal scale; the smallest subnormal always
  // qualifies, so a block whose reference scale underflows to 0 may still
  // keep its largest values.
  const float ideal = amax / kE2M1Max * g_enc;
  const float lo = ideal / kNvfp4SearchRange, hi = ideal * kNvfp4SearchRange;
  // Positive finite codes 0x01..0x7E in increasing order of value.
  for (int c = 1; c <= 0x7E; ++c) {
    const float s = E4M3Decode(static_cast<uint8_t>(c));
    if (c > 1 && s > hi) break;
    if (c == ref || (c > 1 && s < lo)) continue;
    const double e = Nvfp4BlockError(x, n, static_cast<uint8_t>(c), g_dec);
    if (e < best) {
      best = e;
      best_code = static_cast<uint8_t>(c);
    }
  }
  return best_code;
}

bool QuantizeWith(ScaleRule rule, const float* w, size_t N, size_t K, size_t ldw, uint8_t* codes,
                  uint8_t* scales, float* tensor_scale) {
  float amax;
  if (!TensorAmax(w, N, K, ldw, &amax)) return false;
  float g_enc, g_dec;
  Nvfp4TensorScales(amax, &g_enc, &g_dec);
  const size_t row_bytes = (K + 1) / 2;
  const size_t nb = (K + kNvfp4BlockSize - 1) / kNvfp4BlockSize;
  std::memset(codes, 0, N * row_bytes);
  for (size_t n = 0; n < N; ++n) {
    const float* row = w + n * ldw;
    for (size_t b = 0; b < nb; ++b) {
      const size_t k0 = b * kNvfp4BlockSize;
      const size_t k1 = k0 + kNvfp4BlockSize < K ? k0 + kNvfp4BlockSize : K;
      const uint8_t sb = rule(row + k0, k1 - k0, g_enc, g_dec);
      scales[n * nb + b] = sb;
      const float denom = E4M3Decode(sb) * g_dec;
      for (size_t k = k0; k < k1; ++k) {
        const uint8_t c = CodeOf(row[k], denom);
        codes[n * row_bytes + k / 2] |= static_cast<uint8_t>((k & 1) ? c << 4 : c);
      }
    }
  }
  *tensor_scale = g_dec;
  return true;
}

}  // namespace

double Nvfp4BlockError(const float* x, size_t n, uint8_t sb, float g_dec) {
  const float s = E4M3Decode(sb);
  const float denom = s * g_dec;
  double e = 0.0;
  for (size_t k = 0; k < n; ++k) {
    const float dec = (E2M1Decode(CodeOf(x[k], denom)) * s) * g_dec;  // Nvfp4Dequantize's order
    const double d = double(x[k]) - double(dec);
    e += d * d;
  }
  return e;
}

uint8_t Nvfp4BlockScale(const float* x, size_t n, float g_enc, float g_dec, bool search) {
  return search ? SearchRule(x, n, g_enc, g_dec) : AmaxRule(x, n, g_enc, g_dec);
}

uint8_t Nvfp4Code(float x, uint8_t sb, float g_dec) { return CodeOf(x, E4M3Decode(sb) * g_dec); }

bool Nvfp4Quantize(const float* w, size_t N, size_t K, size_t ldw, uint8_t* codes,
                   uint8_t* scales, float* tensor_scale) {
  return QuantizeWith(AmaxRule, w, N, K, ldw, codes, scales, tensor_scale);
}

bool Nvfp4QuantizeSearch(const float* w, size_t N, size_t K, size_t ldw, uint8_t* codes,
                         uint8_t* scales, float* tensor_scale) {
  return QuantizeWith(SearchRule, w, N, K, ldw, codes, scales, tensor_scale);
}

void Nvfp4Dequantize(const uint8_t* codes, const uint8_t* scales, float tensor_scale, size_t N,
                     size_t K, float* w, size_t ldw) {
  const size_t nb = (K + kNvfp4BlockSize - 1) / kNvfp4BlockSize;
  for (size_t n = 0; n < N; ++n) {
    for (size_t k = 0; k < K; ++k) {
      const float s = E4M3Decode(scales[n * nb + k / kNvfp4BlockSize]);
      w[n * ldw + k] = (E2M1Decode(Nvfp4CodeAt(codes, K, n, k)) * s) * tensor_scale;
    }
  }
}

}  // namespace edge
