// What DetectCpuFeatures() reports, and (when EDGE_EXPECT_ISA is set) whether
// it matches the CPU the test was started on. scripts/cross-test.sh runs this
// under qemu-user with several emulated CPUs (-cpu cortex-a53: NEON only;
// cortex-a76: + dotprod; max: + i8mm) so that kernel dispatch sees each tier.
#include <cstdio>
#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

#include "ops/cpu_features.h"

namespace edge {
namespace {

// The best kernel tier the features allow, by the names EDGE_ISA_CAP uses.
std::string TopTier(const CpuFeatures& f) {
  if (f.i8mm) return "i8mm";
  if (f.dotprod) return "dotprod";
  if (f.neon) return "neon";
  if (f.avx512vnni) return "avx512vnni";
  if (f.avx512f && f.avx512bw && f.avx512vl) return "avx512";
  if (f.avx2 && f.fma) return "avx2";
  return "scalar";
}

TEST(CpuFeatures, ReportAndMatchExpectedTier) {
  const CpuFeatures& f = DetectCpuFeatures();
  std::printf("cpu features: neon=%d dotprod=%d i8mm=%d avx2=%d fma=%d avx512f=%d avx512bw=%d "
              "avx512vl=%d avx512vnni=%d avxvnni=%d -> tier %s\n",
              f.neon, f.dotprod, f.i8mm, f.avx2, f.fma, f.avx512f, f.avx512bw, f.avx512vl,
              f.avx512vnni, f.avxvnni, TopTier(f).c_str());
  // Features the kernels rely on come in a fixed order on real CPUs.
  if (f.dotprod) EXPECT_TRUE(f.neon);
  if (f.i8mm) EXPECT_TRUE(f.neon);
  if (f.avx512vnni) EXPECT_TRUE(f.avx512f);
  if (f.avx512f) EXPECT_TRUE(f.avx2);
#if defined(__aarch64__)
  EXPECT_TRUE(f.neon);  // Advanced SIMD is mandatory in ARMv8-A
#endif
  const char* expect = std::getenv("EDGE_EXPECT_ISA");
  if (expect != nullptr && *expect != '\0') {
    EXPECT_EQ(TopTier(f), std::string(expect));
  }
}

}  // namespace
}  // namespace edge
