// The one place that picks a kernel per family from the CPU features; see
// ops/kernel_config.h.
#include "ops/kernel_config.h"

#include "ops/quant_gemm_internal.h"

namespace edge {

namespace {

// Every F32 elementwise / norm / softmax family of one instantiation, named
// as the function is (base + "_ref" / "__avx2" / "__avx512" / "__neon").
#define EDGE_F32_KERNELS(c, suffix)                                                   \
  do {                                                                                \
    (c)->layernorm = {f32_layernorm##suffix, "f32_layernorm" #suffix};                \
    (c)->rmsnorm = {f32_rmsnorm##suffix, "f32_rmsnorm" #suffix};                      \
    (c)->groupnorm = {f32_groupnorm##suffix, "f32_groupnorm" #suffix};                \
    (c)->softmax = {f32_softmax##suffix, "f32_softmax" #suffix};                      \
    (c)->modulate = {f32_modulate##suffix, "f32_modulate" #suffix};                   \
    (c)->gated_residual = {f32_gated_residual##suffix, "f32_gated_residual" #suffix}; \
    (c)->binary = {f32_vbinary##suffix, "f32_vbinary" #suffix};                       \
    (c)->unary = f32_vunary##suffix;                                                  \
  } while (0)

void SetF32Kernels(F32Variant v, KernelConfig* c) {
  c->f32 = v;
  switch (v) {
#if EDGE_ARCH_X86_64
    case F32Variant::kAvx512: EDGE_F32_KERNELS(c, __avx512); return;
    case F32Variant::kAvx2: EDGE_F32_KERNELS(c, __avx2); return;
#endif
#if EDGE_ARCH_ARM
    case F32Variant::kNeon: EDGE_F32_KERNELS(c, __neon); return;
#endif
    default: break;
  }
  c->f32 = F32Variant::kRef;
  EDGE_F32_KERNELS(c, _ref);
}
#undef EDGE_F32_KERNELS

// The elementwise kernels: the x86 tier's; on AArch64 always NEON (baseline,
// whatever EDGE_ISA_CAP says); on AArch32 NEON only where the CPU has VFPv4's
// fused multiply-add, which the F32 __neon files are built for.
F32Variant F32VariantFor(const CpuFeatures& cpu) {
#if EDGE_ARCH_X86_64
  switch (BestIsaLevel(cpu)) {
    case IsaLevel::kAvx512: return F32Variant::kAvx512;
    case IsaLevel::kAvx2: return F32Variant::kAvx2;
    case IsaLevel::kScalar: break;
  }
  return F32Variant::kRef;
#elif EDGE_ARCH_AARCH64
  (void)cpu;
  return F32Variant::kNeon;
#elif EDGE_ARCH_ARM32
  return ArmF32NeonSupported(cpu) ? F32Variant::kNeon : F32Variant::kRef;
#else
  (void)cpu;
  return F32Variant::kRef;
#endif
}

// The quantized GEMM variants, fastest first; the last one runs anywhere.
const QGemmKernel* const kQs8List[] = {
#if defined(__x86_64__)
    &kQs8GemmAvx512vnni, &kQs8GemmAvxvnni, &kQs8GemmAvx512, &kQs8GemmAvx2,
#elif defined(__aarch64__)
    &kQs8GemmI8mm, &kQs8GemmNeondot, &kQs8GemmNeon,
#endif
    &kQs8GemmScalar,
};
const QGemmKernel* const kQnvfp4List[] = {
#if defined(__x86_64__)
    &kQnvfp4GemmAvx512vnni, &kQnvfp4GemmAvxvnni, &kQnvfp4GemmAvx512, &kQnvfp4GemmAvx2,
#elif defined(__aarch64__)
    &kQnvfp4GemmI8mm, &kQnvfp4GemmNeondot, &kQnvfp4GemmNeon,
#endif
    &kQnvfp4GemmScalar,
};
constexpr size_t kQs8Count = sizeof(kQs8List) / sizeof(kQs8List[0]);
constexpr size_t kQnvfp4Count = sizeof(kQnvfp4List) / sizeof(kQnvfp4List[0]);

const QGemmKernel* FirstSupported(const QGemmKernel* const* list, size_t n, const CpuFeatures& cpu) {
  for (size_t i = 0; i < n; ++i) {
    if (list[i]->supported(cpu)) return list[i];
  }
  return list[n - 1];
}

// The EDGE_ISA_CAP name of each IsaLevel.
const char* const kCapOfLevel[] = {"scalar", "avx2", "avx512"};

struct CappedConfigs {
  KernelConfig level[3];
};

CappedConfigs MakeCappedConfigs() {
  CappedConfigs t;
  for (int i = 0; i < 3; ++i) t.level[i] = MakeKernelConfig(CapCpuFeatures(DetectCpuFeatures(), kCapOfLevel[i]));
  return t;
}

}  // namespace

KernelConfig MakeKernelConfig(const CpuFeatures& cpu) {
  KernelConfig c;
  c.isa = BestIsaLevel(cpu);
  SetF32Kernels(F32VariantFor(cpu), &c);

  // F32 GEMM and the convolutions and attention built on it: by x86 tier.
  c.gemm = &kF32GemmScalar;
  c.gemm_p16 = &kF32GemmP16Scalar;
  c.conv2d_im2col = "f32_conv2d_im2col_gemm_4x4__scalar";
  c.conv2d_patchify = "f32_conv2d_patchify_gemm_4x4__scalar";
  c.attention = &kF32AttentionScalar;
  c.qs8_attention = &kQs8AttentionScalar;
#if defined(__x86_64__)
  if (c.isa == IsaLevel::kAvx512) {
    c.gemm = &kF32GemmAvx512;
    c.gemm_p16 = &kF32GemmP16Avx512;
    c.conv2d_im2col = "f32_conv2d_im2col_gemm_8x32__avx512";
    c.conv2d_patchify = "f32_conv2d_patchify_gemm_8x32__avx512";
    c.attention = &kF32AttentionAvx512;
    c.qs8_attention = cpu.avx512vnni ? &kQs8AttentionAvx512Vnni : &kQs8AttentionAvx512;
  } else if (c.isa == IsaLevel::kAvx2) {
    c.gemm = &kF32GemmAvx2;
    c.gemm_p16 = &kF32GemmAvx2;  // its native panel is 16 already
    c.conv2d_im2col = "f32_conv2d_im2col_gemm_6x16__avx2";
    c.conv2d_patchify = "f32_conv2d_patchify_gemm_6x16__avx2";
    c.attention = &kF32AttentionAvx2;
    c.qs8_attention = &kQs8AttentionAvx2;
  }
#endif
#if defined(__aarch64__)
  // NEON is baseline here, but EDGE_ISA_CAP=scalar clears it: the portable
  // attention tile then runs, as on x86 capped to scalar.
  if (cpu.neon) c.attention = &kF32AttentionNeon;
  if (cpu.dotprod) c.qs8_attention = &kQs8AttentionNeondot;
  c.gemm_p16_portable = false;  // the stored layout's kernel is NEON's 4x16
#else
  c.gemm_p16_portable = c.gemm_p16 == &kF32GemmP16Scalar;
#endif

  // Quantized GEMM: the fastest variant the CPU supports.
  c.qs8_gemm = FirstSupported(kQs8List, kQs8Count, cpu);
  c.qnvfp4_gemm = FirstSupported(kQnvfp4List, kQnvfp4Count, cpu);
  return c;
}

const KernelConfig& kernel_config() {
  static const KernelConfig config = MakeKernelConfig(DetectCpuFeatures());
  return config;
}

const KernelConfig& kernel_config(IsaLevel level) {
  static const CappedConfigs capped = MakeCappedConfigs();
  const int i = static_cast<int>(level);
  return capped.level[i >= 0 && i < 3 ? i : 0];
}

size_t Qs8GemmVariants(const QGemmKernel* const** list) {
  *list = kQs8List;
  return kQs8Count;
}

size_t Qnvfp4GemmVariants(const QGemmKernel* const** list) {
  *list = kQnvfp4List;
  return kQnvfp4Count;
}

size_t qs8_attention_kernels(const CpuFeatures& cpu, const Qs8AttentionKernel** out, size_t cap) {
  size_t n = 0;
  if (n < cap) out[n++] = &kQs8AttentionScalar;
#if defined(__x86_64__)
  if (IsaLevelSupported(IsaLevel::kAvx2, cpu) && n < cap) out[n++] = &kQs8AttentionAvx2;
  if (IsaLevelSupported(IsaLevel::kAvx512, cpu) && n < cap) out[n++] = &kQs8AttentionAvx512;
  if (IsaLevelSupported(IsaLevel::kAvx512, cpu) && cpu.avx512vnni && n < cap) out[n++] = &kQs8AttentionAvx512Vnni;
#endif
#if defined(__aarch64__)
  if (cpu.dotprod && n < cap) out[n++] = &kQs8AttentionNeondot;
#endif
  (void)cpu;
  return n;
}

}  // namespace edge
