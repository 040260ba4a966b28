// The kernel table (ops/kernel_config.h): which kernel each family gets for
// a given feature set (including CPUs this machine is not: the table is only
// read here, nothing runs), the table of this CPU made once, and the tables
// of the lower tiers following EDGE_ISA_CAP.
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "ops/cpu_features.h"
#include "ops/kernel_config.h"

namespace edge {
namespace {

// The names a table reports, family by family.
std::vector<std::string> Names(const KernelConfig& c) {
  return {c.layernorm.name,
          c.rmsnorm.name,
          c.groupnorm.name,
          c.softmax.name,
          c.modulate.name,
          c.gated_residual.name,
          c.binary.name,
          F32UnaryKernelName(F32Unary::kGelu, c.f32),
          c.gemm->name,
          c.gemm_p16->name,
          c.conv2d_im2col,
          c.conv2d_patchify,
          c.attention->name,
          c.qs8_attention->name,
          c.qs8_gemm->name,
          c.qnvfp4_gemm->name};
}

struct Case {
  const char* what;
  CpuFeatures cpu;
  std::vector<std::string> names;
  bool p16_portable;
};

std::vector<std::string> F32Names(const std::string& suffix) {
  std::vector<std::string> v;
  for (const char* base : {"f32_layernorm", "f32_rmsnorm", "f32_groupnorm", "f32_softmax", "f32_modulate",
                           "f32_gated_residual", "f32_vbinary", "f32_gelu"}) {
    v.push_back(base + suffix);
  }
  return v;
}

std::vector<std::string> Join(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::vector<Case> Cases() {
  std::vector<Case> cases;
  CpuFeatures none;
#if defined(__x86_64__)
  const std::vector<std::string> scalar_rest = {
      "f32_gemm_4x4__scalar", "f32_gemm_4x4p16__scalar", "f32_conv2d_im2col_gemm_4x4__scalar",
      "f32_conv2d_patchify_gemm_4x4__scalar", "f32_attention_4x64__scalar", "qs8_attention_4x64__scalar",
      "qs8_gemm_1x1__scalar", "qnvfp4_gemm_1x1__scalar"};
  cases.push_back({"no features", none, Join(F32Names("_ref"), scalar_rest), true});
  CpuFeatures avx2 = none;
  avx2.avx2 = avx2.fma = true;
  const std::vector<std::string> avx2_f32 = Join(
      F32Names("__avx2"), {"f32_gemm_6x16__avx2", "f32_gemm_6x16__avx2", "f32_conv2d_im2col_gemm_6x16__avx2",
                           "f32_conv2d_patchify_gemm_6x16__avx2", "f32_attention_6x64__avx2",
                           "qs8_attention_4x64__avx2"});
  cases.push_back({"avx2", avx2, Join(avx2_f32, {"qs8_gemm_3x16c4__avx2", "qnvfp4_gemm_4x8c8__avx2"}), false});
  CpuFeatures avx2_fma_missing = avx2;
  avx2_fma_missing.fma = false;
  cases.push_back({"avx2 without fma", avx2_fma_missing, Join(F32Names("_ref"), scalar_rest), true});
  CpuFeatures avxvnni = avx2;
  avxvnni.avxvnni = true;
  cases.push_back(
      {"avx-vnni", avxvnni, Join(avx2_f32, {"qs8_gemm_6x16c4__avxvnni", "qnvfp4_gemm_4x8c8__avxvnni"}), false});
  CpuFeatures avx512 = avx2;
  avx512.avx512f = avx512.avx512bw = avx512.avx512vl = true;
  const std::vector<std::string> avx512_f32 =
      Join(F32Names("__avx512"),
           {"f32_gemm_8x32__avx512", "f32_gemm_8x32p16__avx512", "f32_conv2d_im2col_gemm_8x32__avx512",
            "f32_conv2d_patchify_gemm_8x32__avx512", "f32_attention_6x64__avx512"});
  cases.push_back({"avx512", avx512,
                   Join(avx512_f32, {"qs8_attention_4x64__avx512bw", "qs8_gemm_8x16c4__avx512bw",
                                     "qnvfp4_gemm_6x32c8__avx512bw"}),
                   false});
  CpuFeatures vnni = avx512;
  vnni.avx512vnni = true;
  cases.push_back({"avx512-vnni", vnni,
                   Join(avx512_f32, {"qs8_attention_4x64__avx512vnni", "qs8_gemm_8x48c4__avx512vnni",
                                     "qnvfp4_gemm_6x32c8__avx512vnni"}),
                   false});
#elif defined(__aarch64__)
  // NEON is baseline: the elementwise kernels and the stored-layout GEMM are
  // NEON's even where the features are capped to scalar.
  const std::vector<std::string> gemm = {"f32_gemm_4x4__scalar", "f32_gemm_4x16__neon",
                                         "f32_conv2d_im2col_gemm_4x4__scalar",
                                         "f32_conv2d_patchify_gemm_4x4__scalar"};
  auto neon_case = [&](const char* what, const CpuFeatures& f, const std::vector<std::string>& rest) {
    cases.push_back({what, f, Join(Join(F32Names("__neon"), gemm), rest), false});
  };
  neon_case("no features", none,
            {"f32_attention_4x64__scalar", "qs8_attention_4x64__scalar", "qs8_gemm_1x1__scalar",
             "qnvfp4_gemm_1x1__scalar"});
  CpuFeatures neon = none;
  neon.neon = neon.neon_fma = true;
  neon_case("neon", neon,
            {"f32_attention_4x64__neon", "qs8_attention_4x64__scalar", "qs8_gemm_2x16c4__neon",
             "qnvfp4_gemm_2x16c4__neon"});
  CpuFeatures dot = neon;
  dot.dotprod = true;
  neon_case("dotprod", dot,
            {"f32_attention_4x64__neon", "qs8_attention_4x64__neondot", "qs8_gemm_4x16c4__neondot",
             "qnvfp4_gemm_2x16c4__neondot"});
  CpuFeatures i8mm = dot;
  i8mm.i8mm = true;
  neon_case("i8mm", i8mm,
            {"f32_attention_4x64__neon", "qs8_attention_4x64__neondot", "qs8_gemm_4x16c8__i8mm",
             "qnvfp4_gemm_2x16c8__i8mm"});
#else
  const std::vector<std::string> rest = {
      "f32_gemm_4x4__scalar", "f32_gemm_4x4p16__scalar", "f32_conv2d_im2col_gemm_4x4__scalar",
      "f32_conv2d_patchify_gemm_4x4__scalar", "f32_attention_4x64__scalar", "qs8_attention_4x64__scalar",
      "qs8_gemm_1x1__scalar", "qnvfp4_gemm_1x1__scalar"};
  cases.push_back({"no features", none, Join(F32Names("_ref"), rest), true});
#if defined(__arm__)
  // The F32 __neon kernels need VFPv4's fused multiply-add (not on A8/A9).
  CpuFeatures neon = none;
  neon.neon = true;
  cases.push_back({"neon without fma", neon, Join(F32Names("_ref"), rest), true});
  neon.neon_fma = true;
  cases.push_back({"neon with fma", neon, Join(F32Names("__neon"), rest), true});
#endif
#endif
  return cases;
}

TEST(KernelConfig, PicksEachFamilyByFeatures) {
  for (const Case& c : Cases()) {
    SCOPED_TRACE(c.what);
    const KernelConfig t = MakeKernelConfig(c.cpu);
    EXPECT_EQ(Names(t), c.names);
    EXPECT_EQ(t.gemm_p16_portable, c.p16_portable);
    EXPECT_EQ(t.isa, BestIsaLevel(c.cpu));
  }
}

// The function pointers are the ones the names say.
TEST(KernelConfig, FunctionsMatchNames) {
  for (const Case& c : Cases()) {
    SCOPED_TRACE(c.what);
    const KernelConfig t = MakeKernelConfig(c.cpu);
    switch (t.f32) {
#if EDGE_ARCH_X86_64
      case F32Variant::kAvx512:
        EXPECT_EQ(t.layernorm.fn, f32_layernorm__avx512);
        EXPECT_EQ(t.unary, f32_vunary__avx512);
        break;
      case F32Variant::kAvx2:
        EXPECT_EQ(t.layernorm.fn, f32_layernorm__avx2);
        EXPECT_EQ(t.unary, f32_vunary__avx2);
        break;
#endif
#if EDGE_ARCH_ARM
      case F32Variant::kNeon:
        EXPECT_EQ(t.softmax.fn, f32_softmax__neon);
        EXPECT_EQ(t.unary, f32_vunary__neon);
        break;
#endif
      default:
        EXPECT_EQ(t.f32, F32Variant::kRef);
        EXPECT_EQ(t.binary.fn, f32_vbinary_ref);
        EXPECT_EQ(t.unary, f32_vunary_ref);
        break;
    }
    EXPECT_EQ(t.gemm->activation, t.gemm_p16->activation);
  }
}

// One table for this CPU, the same from every thread, made from the
// detected features.
TEST(KernelConfig, ThisCpuTableMadeOnce) {
  const KernelConfig* seen[4] = {};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) threads.emplace_back([&seen, i] { seen[i] = &kernel_config(); });
  for (std::thread& t : threads) t.join();
  for (const KernelConfig* p : seen) EXPECT_EQ(p, &kernel_config());
  EXPECT_EQ(Names(kernel_config()), Names(MakeKernelConfig(DetectCpuFeatures())));
}

// kernel_config(level) is the table of EDGE_ISA_CAP=<level>; on x86 its
// F32 kernels are that level's.
TEST(KernelConfig, LevelTablesFollowTheIsaCap) {
  const char* caps[] = {"scalar", "avx2", "avx512"};
  for (int l = 0; l < 3; ++l) {
    const IsaLevel level = static_cast<IsaLevel>(l);
    if (!IsaLevelSupported(level, DetectCpuFeatures())) continue;
    SCOPED_TRACE(caps[l]);
    EXPECT_EQ(Names(kernel_config(level)), Names(MakeKernelConfig(CapCpuFeatures(DetectCpuFeatures(), caps[l]))));
    EXPECT_EQ(kernel_config(level).isa, level);
    EXPECT_EQ(kernel_config(level).gemm->isa, level);
  }
#if EDGE_ARCH_X86_64
  // The CPU's own tier gives its F32 kernels (on ARM kScalar drops NEON).
  const KernelConfig& best = kernel_config(BestIsaLevel(DetectCpuFeatures()));
  EXPECT_EQ(best.gemm, kernel_config().gemm);
  EXPECT_EQ(best.layernorm.fn, kernel_config().layernorm.fn);
  EXPECT_EQ(best.attention, kernel_config().attention);
#endif
}

}  // namespace
}  // namespace edge
