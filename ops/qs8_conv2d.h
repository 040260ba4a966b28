// INT8 Conv2d (NCHW), W8A8 on the quantized GEMM of ops/quant_gemm.h:
// weights INT8 symmetric per output channel (the Int8PerChannel row of
// ops/quant_format.h, stored row-major OIHW), activations quantized at run
// time per output pixel, i.e. per row of the im2col matrix.
//
// Per (image, group), a chunk of output pixels at a time in one thread's
// slot of the scratch:
//   col[pixels, Kg]   im2col rows, Kg = (C/groups)*kh*kw (0 outside the image)
//   t[pixels, Og]   = QGemmRun(col, group's weights): per-row quantization,
//                     exact integer dot products, fma(acc * s_a, s_w, bias)
//   y[b, g*Og + o, pixel] = t[pixel, o]   (written in NCHW order)
// Each output depends only on its own pixel's row, and every GEMM variant
// gives the scalar reference's bits, so results are the same bits for any
// thread count, chunking or CPU (Qs8GemmRef over the explicit im2col matrix).
// Stride, padding, dilation, groups, 1x1 and PatchEmbed (stride == kernel)
// all take the same path.
#pragma once

#include <cstddef>
#include <cstdint>

#include <pthreadpool.h>

#include "ops/f32_conv2d.h"
#include "ops/quant_gemm.h"

namespace edge {

// The weights laid out for QGemmArgs, per group g: the PackedInt8N16K4
// panels of its Og x Kg rows, and its per-channel scale, column correction
// (read by the u8-activation variants) and bias, each padded to
// np = RoundUp(Og, 16) with zeros.
struct Qs8Conv2dWeights {
  const uint8_t* panels = nullptr;  // groups x panel_bytes
  const float* scale = nullptr;     // groups x np
  const int32_t* corr = nullptr;    // groups x np
  const float* bias = nullptr;      // groups x np
  size_t panel_bytes = 0, np = 0;
};

// Bytes of the one buffer qs8_conv2d_pack_weights fills.
size_t qs8_conv2d_weight_bytes(const F32Conv2dParams& p);
// q: int8 OIHW [O, C/groups, kh, kw]; scale: [O]; bias: [O] or null.
// buffer: qs8_conv2d_weight_bytes(p) bytes; *out points into it.
void qs8_conv2d_pack_weights(const F32Conv2dParams& p, const int8_t* q, const float* scale,
                             const float* bias, void* buffer, Qs8Conv2dWeights* out);

// Scratch for `threads` threads; the pointer passed to qs8_conv2d must be
// 64-byte aligned.
size_t qs8_conv2d_scratch_bytes(const QGemmKernel& kernel, const F32Conv2dParams& p, size_t threads);

// `threads`: what the scratch was sized for (uses at most that many of the
// pool's threads).
void qs8_conv2d(const QGemmKernel& kernel, const F32Conv2dParams& p, size_t threads, const float* x,
                const Qs8Conv2dWeights& w, float* y, void* scratch, pthreadpool_t pool);

// "qs8_conv2d_im2col_gemm_<tile>__<isa>" (or "_patchify_" where stride ==
// kernel) for the GEMM variant "qs8_gemm_<tile>__<isa>": a static string.
const char* qs8_conv2d_kernel_name(const QGemmKernel& kernel, bool patchify);

// Reference: direct loops; each output pixel's window (0 outside the image)
// quantized per row as the GEMM does (QuantizeRowsRef), dequantized weights
// and activations multiplied and summed in double. bias may be null.
void qs8_conv2d_ref(const F32Conv2dParams& p, const float* x, const int8_t* q, const float* scale,
                    const float* bias, float* y);

}  // namespace edge
