// The weight-format traits table (ops/quant_format.h): one row per format,
// its byte counts, and the packing / dequantizing of the packed layouts.
#include "ops/quant_format.h"

#include <cstring>

#include "ops/f32_gemm.h"
#include "ops/nvfp4.h"
#include "ops/quant_gemm.h"

namespace edge {

namespace {

// ---------------------------------------------------------------- FP32

bool F32Copy(const float* w, size_t N, size_t K, uint8_t* data, uint8_t*, float* tensor_scale) {
  std::memcpy(data, w, N * K * sizeof(float));
  *tensor_scale = 1.0f;
  return true;
}

void F32Dequantize(const uint8_t* data, const uint8_t*, float, size_t N, size_t K, float* w) {
  std::memcpy(w, data, N * K * sizeof(float));
}

void F32Pack(const uint8_t* data, const uint8_t*, size_t N, size_t K, uint8_t* packed, uint8_t*) {
  // The GEMM's own packing with 16-column panels is this layout.
  f32_gemm_pack_nk(N, K, reinterpret_cast<const float*>(data), K, 16,
                   reinterpret_cast<float*>(packed));
}

void F32DequantizePacked(const uint8_t* packed, const uint8_t*, float, size_t N, size_t K,
                         float* w) {
  const float* p = reinterpret_cast<const float*>(packed);
  for (size_t r = 0; r < N; ++r) {
    for (size_t c = 0; c < K; ++c) w[r * K + c] = p[F32PackedIndex(r, c, K)];
  }
}

// ---------------------------------------------------------------- INT8 per channel

bool Qs8Quantize(const float* w, size_t N, size_t K, uint8_t* data, uint8_t* scales,
                 float* tensor_scale) {
  *tensor_scale = 1.0f;
  return Qs8QuantizePerChannel(w, N, K, K, reinterpret_cast<int8_t*>(data),
                               reinterpret_cast<float*>(scales));
}

void Qs8DequantizeAt(const uint8_t* data, const uint8_t* scales, size_t N, size_t K, bool packed,
                     float* w) {
  const size_t kp = RoundUp(K, 4);
  const int8_t* q = reinterpret_cast<const int8_t*>(data);
  for (size_t r = 0; r < N; ++r) {
    float sc;
    std::memcpy(&sc, scales + 4 * r, 4);
    for (size_t c = 0; c < K; ++c) w[r * K + c] = q[packed ? Qs8PackedIndex(r, c, kp) : r * K + c] * sc;
  }
}

void Qs8Dequantize(const uint8_t* data, const uint8_t* scales, float, size_t N, size_t K, float* w) {
  Qs8DequantizeAt(data, scales, N, K, false, w);
}

void Qs8DequantizePacked(const uint8_t* data, const uint8_t* scales, float, size_t N, size_t K,
                         float* w) {
  Qs8DequantizeAt(data, scales, N, K, true, w);
}

void Qs8Pack(const uint8_t* data, const uint8_t* scales, size_t N, size_t K, uint8_t* packed,
             uint8_t* packed_scales) {
  Qs8PackN16K4(reinterpret_cast<const int8_t*>(data), N, K, packed);
  std::memcpy(packed_scales, scales, N * sizeof(float));  // per-channel scales keep their layout
}

// ---------------------------------------------------------------- NVFP4

bool Nvfp4QuantizeRows(const float* w, size_t N, size_t K, uint8_t* data, uint8_t* scales,
                       float* tensor_scale) {
  return Nvfp4Quantize(w, N, K, K, data, scales, tensor_scale);
}

bool Nvfp4QuantizeRowsSearch(const float* w, size_t N, size_t K, uint8_t* data, uint8_t* scales,
                             float* tensor_scale) {
  return Nvfp4QuantizeSearch(w, N, K, K, data, scales, tensor_scale);
}

void Nvfp4DequantizeRows(const uint8_t* data, const uint8_t* scales, float tensor_scale, size_t N,
                         size_t K, float* w) {
  Nvfp4Dequantize(data, scales, tensor_scale, N, K, w, K);
}

void Nvfp4DequantizePacked(const uint8_t* packed, const uint8_t* packed_scales, float tensor_scale,
                           size_t N, size_t K, float* w) {
  // Panel p = r/16, block b = c/16: 128 code bytes; line h = (c%16)/8 at
  // byte (r%16)*4 + c%4, high nibble for c%8 >= 4. Scales (p*Kp/16 + b)*16 + r%16.
  const size_t kb = RoundUp(K, kNvfp4BlockSize) / kNvfp4BlockSize;
  const float* e4m3 = E4M3Table();
  for (size_t r = 0; r < N; ++r) {
    for (size_t c = 0; c < K; ++c) {
      const size_t p = r / 16, b = c / 16, j = c % 16;
      const uint8_t byte = packed[(p * kb + b) * 128 + (j / 8) * 64 + (r % 16) * 4 + j % 4];
      const uint8_t code = (j % 8) >= 4 ? (byte >> 4) : (byte & 15);
      const float sc = e4m3[packed_scales[(p * kb + b) * 16 + r % 16]];
      w[r * K + c] = (E2M1Decode(code) * sc) * tensor_scale;
    }
  }
}

void Nvfp4Pack(const uint8_t* data, const uint8_t* scales, size_t N, size_t K, uint8_t* packed,
               uint8_t* packed_scales) {
  Nvfp4PackN16K64(data, scales, N, K, packed, packed_scales);
}

//  format              name     elems unit scales                     block            scale panel k_align
const QuantFormatTraits kFormats[kQuantFormatCount] = {
    {QuantFormat::kF32,   "fp32",  1, 4, QuantScaleKind::kNone,       0,               0, 16, 1,
     F32Copy, F32Copy, F32Dequantize, F32Pack, F32DequantizePacked},
    {QuantFormat::kQs8,   "int8",  1, 1, QuantScaleKind::kPerChannel, 0,               4, 16, 4,
     Qs8Quantize, Qs8Quantize, Qs8Dequantize, Qs8Pack, Qs8DequantizePacked},
    {QuantFormat::kNvfp4, "nvfp4", 2, 1, QuantScaleKind::kPerBlock,   kNvfp4BlockSize, 1, 16, kNvfp4BlockSize,
     Nvfp4QuantizeRows, Nvfp4QuantizeRowsSearch, Nvfp4DequantizeRows, Nvfp4Pack, Nvfp4DequantizePacked},
};

bool Mul(uint64_t a, uint64_t b, uint64_t* out) { return !__builtin_mul_overflow(a, b, out); }
uint64_t CeilDiv(uint64_t a, uint64_t b) { return a / b + (a % b != 0); }

// Rounds up without overflow; false if the result does not fit.
bool RoundUpChecked(uint64_t v, uint64_t m, uint64_t* out) {
  const uint64_t r = CeilDiv(v, m);
  return Mul(r, m, out);
}

size_t Unchecked(bool (*fn)(const QuantFormatTraits&, uint64_t, uint64_t, uint64_t*),
                 const QuantFormatTraits& f, size_t N, size_t K) {
  uint64_t b = 0;
  return fn(f, N, K, &b) ? static_cast<size_t>(b) : 0;
}

}  // namespace

const QuantFormatTraits& QuantFormatOf(QuantFormat format) {
  return kFormats[static_cast<int>(format)];
}

bool QuantRowMajorBytes(const QuantFormatTraits& f, uint64_t rows, uint64_t K, uint64_t* bytes) {
  uint64_t row = 0;
  return Mul(CeilDiv(K, f.elems_per_unit), f.unit_bytes, &row) && Mul(rows, row, bytes);
}

bool QuantRowMajorScaleBytes(const QuantFormatTraits& f, uint64_t rows, uint64_t K,
                             uint64_t* bytes) {
  switch (f.scale_kind) {
    case QuantScaleKind::kPerChannel: return Mul(rows, f.scale_bytes, bytes);
    case QuantScaleKind::kPerBlock: {
      uint64_t row = 0;
      return Mul(CeilDiv(K, f.scale_block), f.scale_bytes, &row) && Mul(rows, row, bytes);
    }
    case QuantScaleKind::kNone: break;
  }
  *bytes = 0;
  return true;
}

bool QuantPackedBytes(const QuantFormatTraits& f, uint64_t N, uint64_t K, uint64_t* bytes) {
  uint64_t np = 0, kp = 0;
  if (f.panel_n == 0 || !RoundUpChecked(N, f.panel_n, &np) || !RoundUpChecked(K, f.k_align, &kp)) {
    return false;
  }
  return QuantRowMajorBytes(f, np, kp, bytes);
}

bool QuantPackedScaleBytes(const QuantFormatTraits& f, uint64_t N, uint64_t K, uint64_t* bytes) {
  if (f.panel_n == 0) return false;
  // Per-channel scales keep their plain [N] layout; block scales are padded
  // with the panels (zeros).
  if (f.scale_kind != QuantScaleKind::kPerBlock) return QuantRowMajorScaleBytes(f, N, K, bytes);
  uint64_t np = 0, kp = 0;
  if (!RoundUpChecked(N, f.panel_n, &np) || !RoundUpChecked(K, f.k_align, &kp)) return false;
  return QuantRowMajorScaleBytes(f, np, kp, bytes);
}

size_t QuantRowMajorBytes(const QuantFormatTraits& f, size_t N, size_t K) {
  return Unchecked(QuantRowMajorBytes, f, N, K);
}
size_t QuantRowMajorScaleBytes(const QuantFormatTraits& f, size_t N, size_t K) {
  return Unchecked(QuantRowMajorScaleBytes, f, N, K);
}
size_t QuantPackedBytes(const QuantFormatTraits& f, size_t N, size_t K) {
  return Unchecked(QuantPackedBytes, f, N, K);
}
size_t QuantPackedScaleBytes(const QuantFormatTraits& f, size_t N, size_t K) {
  return Unchecked(QuantPackedScaleBytes, f, N, K);
}

// ---------------------------------------------------------------- packing

size_t Qs8PackedBytes(size_t N, size_t K) {
  return QuantPackedBytes(QuantFormatOf(QuantFormat::kQs8), N, K);
}

void Qs8PackN16K4(const int8_t* q, size_t N, size_t K, uint8_t* packed) {
  const size_t Kp = RoundUp(K, 4);
  std::memset(packed, 0, Qs8PackedBytes(N, K));
  for (size_t n = 0; n < N; ++n) {
    for (size_t k = 0; k < K; ++k) packed[Qs8PackedIndex(n, k, Kp)] = static_cast<uint8_t>(q[n * K + k]);
  }
}

size_t Nvfp4PackedCodeBytes(size_t N, size_t K) {
  return QuantPackedBytes(QuantFormatOf(QuantFormat::kNvfp4), N, K);
}
size_t Nvfp4PackedScaleBytes(size_t N, size_t K) {
  return QuantPackedScaleBytes(QuantFormatOf(QuantFormat::kNvfp4), N, K);
}

void Nvfp4PackN16K64(const uint8_t* codes, const uint8_t* scales, size_t N, size_t K,
                     uint8_t* packed_codes, uint8_t* packed_scales) {
  const size_t nb = RoundUp(K, kNvfp4BlockSize) / kNvfp4BlockSize;
  const size_t nb_src = (K + kNvfp4BlockSize - 1) / kNvfp4BlockSize;
  std::memset(packed_codes, 0, Nvfp4PackedCodeBytes(N, K));
  std::memset(packed_scales, 0, Nvfp4PackedScaleBytes(N, K));
  for (size_t n = 0; n < N; ++n) {
    const size_t p = n / 16, c = n % 16;
    for (size_t b = 0; b < nb_src; ++b) packed_scales[(p * nb + b) * 16 + c] = scales[n * nb_src + b];
    for (size_t k = 0; k < K; ++k) {
      const size_t b = k / 16, r = k % 16, h = r / 8, j = r % 8;
      uint8_t& byte = packed_codes[(p * nb + b) * 128 + h * 64 + c * 4 + (j % 4)];
      const uint8_t code = Nvfp4CodeAt(codes, K, n, k);
      byte |= static_cast<uint8_t>(j < 4 ? code : code << 4);
    }
  }
}

}  // namespace edge
