// Which kernel each family runs on this CPU, decided in one place (the way
// XNNPACK's configs do it): one table with an entry per kernel family, filled
// once from the CPU features. Bindings and ops read the table; no other code
// switches on the ISA or the CPU features to choose a kernel. The per-ISA
// files (*__avx2.cc, *__neon.cc, ...) only instantiate the kernels.
//
// kernel_config() is the table for this CPU as DetectCpuFeatures() reports it
// (EDGE_ISA_CAP applies); the session hands it to every binding.
// kernel_config(level) is the table EDGE_ISA_CAP=scalar|avx2|avx512 would
// give: tests and the benchmarks run the lower tiers with it. On ARM only
// kScalar caps anything (it drops NEON, dotprod and i8mm, as EDGE_ISA_CAP=scalar
// does); a level above the CPU's gives the CPU's own table.
#pragma once

#include <cstddef>

#include "ops/cpu_features.h"
#include "ops/f32_activation.h"
#include "ops/f32_attention.h"
#include "ops/f32_binary.h"
#include "ops/f32_gemm.h"
#include "ops/f32_groupnorm.h"
#include "ops/f32_modulate.h"
#include "ops/f32_norm.h"
#include "ops/f32_softmax.h"
#include "ops/isa.h"
#include "ops/qs8_attention.h"
#include "ops/quant_gemm.h"

namespace edge {

// A kernel function and the name it is reported under (edge-run --verbose).
template <typename Fn>
struct NamedKernel {
  Fn fn = nullptr;
  const char* name = "";
};

struct KernelConfig {
  // The x86 tier (kScalar on ARM): where it is kScalar the F32 Linear and
  // Conv2d bindings prefer XNNPACK's vector kernels to the portable GEMM.
  IsaLevel isa = IsaLevel::kScalar;
  // F32 elementwise, norm and softmax kernels: all of one instantiation.
  F32Variant f32 = F32Variant::kRef;
  NamedKernel<f32_layernorm_fn> layernorm;
  NamedKernel<f32_rmsnorm_fn> rmsnorm;
  NamedKernel<f32_groupnorm_fn> groupnorm;
  NamedKernel<f32_softmax_fn> softmax;
  NamedKernel<f32_modulate_fn> modulate;
  NamedKernel<f32_gated_residual_fn> gated_residual;
  NamedKernel<f32_vbinary_fn> binary;
  // One function for every unary kind; each kind has its own name,
  // F32UnaryKernelName(kind, f32).
  f32_vunary_fn unary = nullptr;
  // F32 GEMM on panels of its own width (MatMul, Linear, Conv2d, the
  // centroids of cluster attention), and the one reading stored 16-wide
  // panels (PackedF32N16). gemm_p16_portable: that one's microkernel is the
  // portable C++ one (AArch32, x86 at the scalar tier).
  const F32GemmConfig* gemm = nullptr;
  const F32GemmConfig* gemm_p16 = nullptr;
  bool gemm_p16_portable = false;
  // F32 Conv2d (im2col or patchify, then `gemm`): the names it reports.
  const char* conv2d_im2col = "";
  const char* conv2d_patchify = "";
  // Attention tiles, FP32 and INT8.
  const F32AttentionKernel* attention = nullptr;
  const Qs8AttentionKernel* qs8_attention = nullptr;
  // Quantized GEMM (Linear, INT8 Conv2d): W8A8 and W4A8 (NVFP4).
  const QGemmKernel* qs8_gemm = nullptr;
  const QGemmKernel* qnvfp4_gemm = nullptr;
};

// The table for this CPU, made on the first call (thread-safe).
const KernelConfig& kernel_config();
// The table for this CPU capped at `level` (see above), made on the first call.
const KernelConfig& kernel_config(IsaLevel level);
// The table for any feature set (what the two above are made with).
KernelConfig MakeKernelConfig(const CpuFeatures& cpu);

// Every variant of a family this build compiles, for the tests and benchmarks
// that run each one. The quantized GEMMs: fastest first, the table holds the
// first the CPU supports (QGemmKernel::supported). INT8 attention: the ones
// this CPU can run, scalar first; at most `cap` written to `out`.
size_t Qs8GemmVariants(const QGemmKernel* const** list);
size_t Qnvfp4GemmVariants(const QGemmKernel* const** list);
size_t qs8_attention_kernels(const CpuFeatures& cpu, const Qs8AttentionKernel** out, size_t cap);

}  // namespace edge
