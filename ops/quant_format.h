// Weight formats of a Linear weight W[N, K] (K = reduction axis): one traits
// row per format, in the manner of ggml's type-traits table. The loader, the
// validator, the Linear binding, the kernels and the converter ask the row
// for sizes, padding, scale layout and the quantize / pack / dequantize entry
// points instead of recomputing them.
//
// Row-major storage (the schema's WeightLayout::RowMajor):
//   data   : N rows of ceil(K / elems_per_unit) units of unit_bytes
//            (FP32 4 bytes a weight, INT8 1, NVFP4 two E2M1 codes a byte,
//            even k in the low nibble; see ops/nvfp4.h)
//   scales : kPerChannel: one FP32 per row (N * 4 bytes);
//            kPerBlock: one E4M3 byte per scale_block (16) consecutive k of a
//            row, [N, ceil(K / 16)]; kNone: no scale buffer.
//
// Packed layouts (the kernels' own, built by the converter or at prepare):
// N padded to panel_n (16), K padded to k_align, zeros in the padding.
//   PackedF32N16      : k_align 1. Panel p holds columns 16p..16p+15; inside
//                       it, for each k, the 16 floats of those columns.
//                       Float of (n, k): (n/16)*16*K + k*16 + n%16. The F32
//                       GEMM of every ISA reads it in place (ops/f32_gemm.h:
//                       its p16 microkernels), so a converted file's FP32
//                       Linear weights are used straight from the mapping.
//   PackedInt8N16K4   : k_align 4. Panel p holds columns 16p..16p+15; inside
//                       it, for each group of 4 k: 64 bytes = 16 columns x 4
//                       consecutive k (int8).
//                       Byte of (n, k): p*16*Kp + (k/4)*64 + (n%16)*4 + k%4.
//                       Per-channel scales stay a plain f32 [N] array.
//   PackedNvfp4N16K64 : k_align 16 (the "K64" names the 64-byte lines, not a
//                       K padding). Panel p, block b (16 k) = 128 bytes = two
//                       64-byte lines; line h holds, at byte (n%16)*4 + j, the
//                       code of k = 16b + 8h + j in its low nibble and of
//                       k = 16b + 8h + 4 + j in its high nibble (j < 4): one
//                       64-byte load decodes to two 16-column x 4-k int8 tiles.
//                       Scales: panel p, block b, column n%16 at
//                       (p * Kp/16 + b) * 16 + n%16 (E4M3). Size: Np*Kp/2 code
//                       bytes + Np*Kp/16 scale bytes (4.5 bits per weight).
#pragma once

#include <cstddef>
#include <cstdint>

namespace edge {

// Row order of the table (runtime/weight_format.cc gives each row's names in
// the schema: dtype, quantization scheme, packed layout).
enum class QuantFormat : int { kF32 = 0, kQs8 = 1, kNvfp4 = 2 };
constexpr int kQuantFormatCount = 3;

enum class QuantScaleKind : int { kNone = 0, kPerChannel, kPerBlock };

struct QuantFormatTraits {
  QuantFormat format;       // this row's index
  const char* name;         // "fp32", "int8", "nvfp4"
  size_t elems_per_unit;    // weights sharing one storage unit
  size_t unit_bytes;        // bytes of one storage unit
  QuantScaleKind scale_kind;
  size_t scale_block;       // kPerBlock: consecutive k sharing one scale
  size_t scale_bytes;       // bytes of one scale
  size_t panel_n;           // packed layout: N padded to this; 0 = no packed layout
  size_t k_align;           // packed layout: K padded to this

  // Row-major w[N, K] -> data and scales (row-major sizes above). Returns
  // false, writing nothing meaningful, if w holds NaN or Inf. *tensor_scale:
  // the FP32 tensor scale (1 where the format has none).
  bool (*quantize)(const float* w, size_t N, size_t K, uint8_t* data, uint8_t* scales,
                   float* tensor_scale);
  // The converter's (offline) quantizer: the same encoding, read by the same
  // kernels, but its free choices made by a slower search (NVFP4: each
  // block's E4M3 scale of least squared error, ops/nvfp4.h; never a larger
  // error per block than `quantize`). Same contract as `quantize`.
  bool (*quantize_offline)(const float* w, size_t N, size_t K, uint8_t* data, uint8_t* scales,
                           float* tensor_scale);
  // Row-major data and scales -> w[N, K] (row stride K).
  void (*dequantize)(const uint8_t* data, const uint8_t* scales, float tensor_scale, size_t N,
                     size_t K, float* w);
  // Row-major -> packed layout (packed sizes above); null without a packed layout.
  void (*pack)(const uint8_t* data, const uint8_t* scales, size_t N, size_t K, uint8_t* packed,
               uint8_t* packed_scales);
  // Packed layout -> w[N, K] (the same values dequantize gives); null without one.
  void (*dequantize_packed)(const uint8_t* packed, const uint8_t* packed_scales,
                            float tensor_scale, size_t N, size_t K, float* w);
};

const QuantFormatTraits& QuantFormatOf(QuantFormat format);

inline size_t RoundUp(size_t x, size_t m) { return (x + m - 1) / m * m; }

// Float of weight (n, k) in PackedF32N16 (K not padded).
inline size_t F32PackedIndex(size_t n, size_t k, size_t K) {
  return (n / 16) * 16 * K + k * 16 + n % 16;
}

// Byte of int8 weight (n, k) in PackedInt8N16K4 whose K is padded to kp.
inline size_t Qs8PackedIndex(size_t n, size_t k, size_t kp) {
  return (n / 16) * 16 * kp + (k / 4) * 64 + (n % 16) * 4 + k % 4;
}

// Byte counts. The uint64 forms return false on overflow (the validator
// feeds them untrusted shapes); the size_t forms are for shapes already
// validated.
bool QuantRowMajorBytes(const QuantFormatTraits& f, uint64_t rows, uint64_t K, uint64_t* bytes);
bool QuantRowMajorScaleBytes(const QuantFormatTraits& f, uint64_t rows, uint64_t K,
                             uint64_t* bytes);
// False also for a format without a packed layout.
bool QuantPackedBytes(const QuantFormatTraits& f, uint64_t N, uint64_t K, uint64_t* bytes);
bool QuantPackedScaleBytes(const QuantFormatTraits& f, uint64_t N, uint64_t K, uint64_t* bytes);

size_t QuantRowMajorBytes(const QuantFormatTraits& f, size_t N, size_t K);
size_t QuantRowMajorScaleBytes(const QuantFormatTraits& f, size_t N, size_t K);
size_t QuantPackedBytes(const QuantFormatTraits& f, size_t N, size_t K);
size_t QuantPackedScaleBytes(const QuantFormatTraits& f, size_t N, size_t K);

// The packing entry points by name (tests, bench and the kernels' oracles).
size_t Qs8PackedBytes(size_t N, size_t K);
// q: row-major int8 [N, K]. packed: Qs8PackedBytes(N, K) bytes.
void Qs8PackN16K4(const int8_t* q, size_t N, size_t K, uint8_t* packed);

size_t Nvfp4PackedCodeBytes(size_t N, size_t K);
size_t Nvfp4PackedScaleBytes(size_t N, size_t K);
// codes/scales: row-major as in ops/nvfp4.h.
void Nvfp4PackN16K64(const uint8_t* codes, const uint8_t* scales, size_t N, size_t K,
                     uint8_t* packed_codes, uint8_t* packed_scales);

}  // namespace edge
