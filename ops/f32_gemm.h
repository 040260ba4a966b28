// F32 GEMM: y[M,N] = x[M,K] . W[N,K]^T + bias[N], optional fused activation.
//
// W is row-major [N,K] as PyTorch stores Linear weights. The fast path packs
// W once (prepare time) into panels of NR columns: panel p holds, for each k,
// the NR values W[p*NR + j][k] contiguously (zero-padded past N). A
// register-blocked microkernel computes an MR x NR block of y from MR rows of
// x (read in place, any row stride) and one panel, adding bias and applying
// the activation while the block is still in registers. The driver tiles M
// and N and runs the tiles on a pthreadpool (may be null).
//
// Two packed layouts, one driver. The native one (KernelConfig::gemm) has
// panels of the config's NR, packed at prepare or per run. The stored one,
// PackedF32N16 of ops/quant_format.h, has panels of 16 whatever the ISA, so
// that a file can hold it and every ISA read it in place: KernelConfig::gemm_p16
// is a microkernel of the same register block that reads 16-wide panels
// (AVX2's 6x16 reads both layouts; AVX-512's 8x32 reads two panels a step).
// f32_gemm_pack_nk with nr = 16 writes PackedF32N16.
#pragma once

#include <cstddef>

#include <pthreadpool.h>

#include "ops/cpu_features.h"
#include "ops/f32_activation_pass.h"
#include "ops/isa.h"

namespace edge {


// Computes an mr x nc block (mr <= MR, nc <= NR) of y:
//   c[i][j] = act(sum_k a[i*a_stride + k] * w[k*NR + j] + bias[j])
// `w` is one packed panel, `bias` (nc values) may be null, strides in floats.
typedef void (*F32GemmUkernel)(size_t mr, size_t nc, size_t k, const float* a, size_t a_stride,
                               const float* w, const float* bias, float* c, size_t c_stride,
                               int activation);

struct F32GemmConfig {
  const char* name;  // e.g. "f32_gemm_8x32__avx512"
  F32GemmUkernel ukernel;
  F32ActivationFn activation;
  size_t mr, nr;
  IsaLevel isa;
  size_t panel;  // width of the packed panels the ukernel reads: nr, or 16 (PackedF32N16)
};

// The configs of this build; ops/kernel_config.h picks one per CPU. Native
// panels: scalar (every build), AVX2 and AVX-512 (x86-64). Reading
// PackedF32N16 (panel 16): the scalar level's (the portable 4x4 one; on
// AArch64, where NEON is baseline, the NEON 4x16), AVX-512's; AVX2's native
// panel is 16 already.
extern const F32GemmConfig kF32GemmScalar;
extern const F32GemmConfig kF32GemmP16Scalar;
#if defined(__x86_64__)
extern const F32GemmConfig kF32GemmAvx2;
extern const F32GemmConfig kF32GemmAvx512;
extern const F32GemmConfig kF32GemmP16Avx512;
#endif

// The microkernels (x86 ones exist only in x86-64 builds).
void f32_gemm_4x4__scalar(size_t mr, size_t nc, size_t k, const float* a, size_t a_stride,
                          const float* w, const float* bias, float* c, size_t c_stride, int act);
void f32_gemm_6x16__avx2(size_t mr, size_t nc, size_t k, const float* a, size_t a_stride,
                         const float* w, const float* bias, float* c, size_t c_stride, int act);
void f32_gemm_8x32__avx512(size_t mr, size_t nc, size_t k, const float* a, size_t a_stride,
                           const float* w, const float* bias, float* c, size_t c_stride, int act);
// The same register blocks reading 16-wide panels (PackedF32N16); the
// portable one is not built on AArch64, which has NEON.
void f32_gemm_4x4p16__scalar(size_t mr, size_t nc, size_t k, const float* a, size_t a_stride,
                             const float* w, const float* bias, float* c, size_t c_stride,
                             int act);
void f32_gemm_8x32p16__avx512(size_t mr, size_t nc, size_t k, const float* a, size_t a_stride,
                              const float* w, const float* bias, float* c, size_t c_stride,
                              int act);
// AArch64 only: 4 rows x 16 columns (16 q-register accumulators); its panel
// is 16, so it reads PackedF32N16 natively.
void f32_gemm_4x16__neon(size_t mr, size_t nc, size_t k, const float* a, size_t a_stride,
                         const float* w, const float* bias, float* c, size_t c_stride, int act);

// Floats needed for the packed weights of an N x K matrix with panels of nr.
size_t f32_gemm_packed_floats(size_t n, size_t k, size_t nr);
// Packs W given as [N,K] row-major (ldw = row stride, >= K).
void f32_gemm_pack_nk(size_t n, size_t k, const float* w, size_t ldw, size_t nr, float* packed);
// Packs B given as [K,N] row-major (ldb = row stride, >= N): the same GEMM
// with W = B^T, for MatMul without transpose_b.
void f32_gemm_pack_kn(size_t n, size_t k, const float* b, size_t ldb, size_t nr, float* packed);

// y = act(x . W^T + bias) with W packed in cfg's layout (panels of
// cfg.panel). x rows have stride x_stride, y rows y_stride (floats). bias may
// be null.
void f32_gemm_packed(const F32GemmConfig& cfg, size_t m, size_t n, size_t k, const float* x,
                     size_t x_stride, const float* packed_w, const float* bias, float* y,
                     size_t y_stride, GemmActivation act, pthreadpool_t pool);

// Reference: plain loops, accumulation in double. W [N,K] row-major.
void f32_gemm_ref(size_t m, size_t n, size_t k, const float* x, size_t x_stride, const float* w,
                  size_t w_stride, const float* bias, float* y, size_t y_stride,
                  GemmActivation act);
// Reference activation of one value (double precision formulas).
float f32_activation_ref(float x, GemmActivation act);

}  // namespace edge
