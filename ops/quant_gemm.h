// Quantized linear layers: y[M, N] = x[M, K] * W^T + bias, FP32 in and out,
// W quantized offline, x quantized per token (row) at run time.
//
//   qs8    : W8A8. W int8 symmetric per output channel (w = q * scale[n]).
//   qnvfp4 : W4A8. W NVFP4 (ops/nvfp4.h). 2 * e2m1 is an exact integer in
//            [-12, 12], so each 16-element block is an exact int8 dot product;
//            its FP32 block scale is applied once per block.
//
// Activations (all variants): per row, s_a = amax / 127, q = RNE(x * (127 /
// amax)) clamped to [-127, 127] (q = 0, s_a = 0 for an all-zero row).
// Rows with NaN/Inf give unspecified output.
//
// Every variant gives the same bits as the scalar reference (Qs8GemmRef /
// Qnvfp4GemmRef): the integer dot products are exact and the FP32 steps run
// in the same order:
//   qs8   : y = fma(float(acc) * s_a[m], s_w[n], bias[n])
//   nvfp4 : f = 0; for each block b in order: f = fma(float(acc_b), e4m3(s_b[n]), f)
//           y = fma(f, s_a[m] * (0.5 * g_dec), bias[n])
//
// Packed weight layouts (schema WeightLayout), their sizes and the packing
// entry points: the weight-format traits table, ops/quant_format.h.
#pragma once

#include <cstddef>
#include <cstdint>

#include <pthreadpool.h>

#include "ops/cpu_features.h"
#include "ops/quant_format.h"

namespace edge {

// ---------------------------------------------------------------- quantizers

// Symmetric per-channel int8 of w[N, K]: scale[n] = amax_n / 127 (1 for an
// all-zero row), q = RNE(w / scale) clamped to [-127, 127]. Returns false if
// any value is NaN or infinite.
bool Qs8QuantizePerChannel(const float* w, size_t N, size_t K, size_t ldw, int8_t* q,
                           float* scale);

// How a variant wants its activations: q XOR xor_mask (0x80 turns s8 into the
// u8 "q + 128" that vpdpbusd wants), rows zero-padded to `k_pad`; if corr_mul
// != 0, also corr[row][b] = corr_mul * sum of q over 16-block b.
// int16_even_odd: each q as a little-endian int16 (2 bytes per element; no
// xor_mask), every 4 of them in the order q0, q2, q1, q3 (k_pad a multiple
// of 4): the AVX2 tile multiplies even and odd k apart (qs8_gemm__avx2.cc).
struct QActFormat {
  uint8_t xor_mask = 0;
  int32_t corr_mul = 0;
  bool int16_even_odd = false;
};

// Bytes of one quantized activation row of k_pad elements in this format.
inline size_t QActRowBytes(const QActFormat& f, size_t k_pad) { return f.int16_even_odd ? 2 * k_pad : k_pad; }

// Per-token activation quantizer (reference; the variants have vector ones
// producing the same bytes). q rows are ldq bytes, k_pad (>= K) of them written.
void QuantizeRowsRef(const float* x, size_t ldx, size_t rows, size_t K, size_t k_pad,
                     QActFormat fmt, uint8_t* q, size_t ldq, float* scale, int32_t* corr,
                     size_t ldcorr);

// ---------------------------------------------------------------- kernels

// Everything a tile kernel reads. Per-column arrays are padded to Np =
// RoundUp(N, 16) (bias: zeros when the layer has none).
struct QGemmArgs {
  size_t M = 0, N = 0, K = 0;
  size_t k_pad = 0;             // activation row length (multiple of 4 / 16)
  const uint8_t* a = nullptr;   // quantized activations, lda bytes per row
  size_t lda = 0;
  const float* a_scale = nullptr;
  const int32_t* a_corr = nullptr;  // [M][ldcorr] block corrections (if corr_mul)
  size_t ldcorr = 0;
  const uint8_t* w = nullptr;        // packed weights
  const uint8_t* w_scales = nullptr; // nvfp4: packed E4M3 block scales
  const float* w_scale = nullptr;    // qs8: per-channel scale [Np]
  const int32_t* w_corr = nullptr;   // qs8 u8-activation variants: -128 * sum_k w[n, k]
  const float* bias = nullptr;       // [Np]
  float tensor_half = 0.0f;          // nvfp4: 0.5 * g_dec
  float* y = nullptr;
  size_t ldy = 0;
};

struct QGemmKernel {
  const char* name;
  bool (*supported)(const CpuFeatures&);
  QActFormat act;
  size_t k_align;  // activation rows padded to a multiple of this
  // Quantizes rows [0, rows) of x into the format above.
  void (*quantize)(const float* x, size_t ldx, size_t rows, size_t K, size_t k_pad,
                   QActFormat fmt, uint8_t* q, size_t ldq, float* scale, int32_t* corr,
                   size_t ldcorr);
  // Computes y rows [m0, m0+mc) x columns [n0, n0+nc); n0 is a multiple of 16.
  void (*tile)(const QGemmArgs& args, size_t m0, size_t mc, size_t n0, size_t nc);
  size_t mr, nr;  // register tile (for picking task sizes)
  bool needs_w_corr;  // qs8: reads args.w_corr
};

// The portable variants, in every build. The vector ones are declared in
// ops/quant_gemm_internal.h; ops/kernel_config.h lists them all and picks one
// per CPU.
extern const QGemmKernel kQs8GemmScalar;
extern const QGemmKernel kQnvfp4GemmScalar;

// -128 * sum_k q[n, k] per column from packed N16K4 weights, padded to Np.
void Qs8ColumnCorrection(const uint8_t* packed, size_t N, size_t K, int32_t* corr);

// Scratch the driver needs for M rows of K (64-byte aligned pointer).
size_t QGemmScratchBytes(const QGemmKernel& kernel, size_t M, size_t K);

// Runs the whole layer: quantizes x[M, K] (row stride ldx) into scratch, then
// the tiles, over pool (may be null). args: weights, scales, bias, y filled
// in; activation fields are set here.
void QGemmRun(const QGemmKernel& kernel, const float* x, size_t ldx, QGemmArgs args,
              void* scratch, pthreadpool_t pool);

// Oracles: straightforward loops on row-major weights, including the
// activation quantization. bias may be null.
void Qs8GemmRef(const float* x, size_t M, size_t K, const int8_t* q, const float* w_scale,
                const float* bias, size_t N, float* y);
void Qnvfp4GemmRef(const float* x, size_t M, size_t K, const uint8_t* codes,
                   const uint8_t* scales, float tensor_scale, const float* bias, size_t N,
                   float* y);

}  // namespace edge
