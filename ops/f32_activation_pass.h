// The in-place activation pass of the F32 GEMM family: the same vector GELU /
// GELU-tanh / SiLU as the GEMM epilogue and the Gelu / SiLU ops
// (ops/vec_math.h), over an array, for the layers whose GEMM cannot fuse it
// (XNNPACK's, the quantized kernels).
#pragma once

#include <cstddef>

#include <pthreadpool.h>

namespace edge {

// Activation codes (same values as fb::Activation).
enum class GemmActivation : int { kNone = 0, kGelu = 1, kGeluTanh = 2, kSiLU = 3 };

// In-place activation over n floats.
typedef void (*F32ActivationFn)(size_t n, float* x, int activation);

void f32_activation__scalar(size_t n, float* x, int act);
void f32_activation__avx2(size_t n, float* x, int act);
void f32_activation__avx512(size_t n, float* x, int act);
void f32_activation__neon(size_t n, float* x, int act);  // AArch64

// x[0, n) = act(x) in place with `fn`, in parallel chunks over pool (may be null).
void f32_activation_parallel(F32ActivationFn fn, size_t n, float* x, GemmActivation act,
                             pthreadpool_t pool);

}  // namespace edge
