#include "ops/cpu_features.h"

#include <cstdlib>
#include <cstring>

#include <cpuinfo.h>

#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace edge {
namespace {

CpuFeatures Detect() {
  CpuFeatures f;
  if (!cpuinfo_initialize()) return f;
#if defined(__x86_64__) || defined(__i386__)
  f.avx2 = cpuinfo_has_x86_avx2();
  f.fma = cpuinfo_has_x86_fma3();
  f.avx512f = cpuinfo_has_x86_avx512f();
  f.avx512bw = cpuinfo_has_x86_avx512bw();
  f.avx512vl = cpuinfo_has_x86_avx512vl();
  f.avx512vnni = cpuinfo_has_x86_avx512vnni();
  // This cpuinfo snapshot predates AVX-VNNI: CPUID.(EAX=7,ECX=1):EAX[4].
  {
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (__get_cpuid_count(7, 1, &a, &b, &c, &d)) f.avxvnni = f.avx2 && (a & (1u << 4)) != 0;
  }
#elif defined(__aarch64__) || defined(__arm__)
  f.neon = cpuinfo_has_arm_neon();
  f.neon_fma = cpuinfo_has_arm_neon_fma();
  f.dotprod = cpuinfo_has_arm_neon_dot();
#if defined(__aarch64__) && defined(__linux__)
  // This cpuinfo snapshot predates I8MM; read the kernel's hwcaps directly.
  f.i8mm = (getauxval(AT_HWCAP2) & (1UL << 13)) != 0;  // HWCAP2_I8MM
#endif
#endif
  return CapCpuFeatures(f, std::getenv("EDGE_ISA_CAP"));
}

}  // namespace

CpuFeatures CapCpuFeatures(CpuFeatures f, const char* cap) {
  if (cap == nullptr) return f;
  if (std::strcmp(cap, "scalar") == 0) {
    f = CpuFeatures();
  } else if (std::strcmp(cap, "avx2") == 0) {
    f.avx512f = f.avx512bw = f.avx512vl = f.avx512vnni = f.avxvnni = false;
  } else if (std::strcmp(cap, "avx512") == 0) {
    f.avx512vnni = f.avxvnni = false;
  } else if (std::strcmp(cap, "neon") == 0) {
    f.dotprod = f.i8mm = false;
  } else if (std::strcmp(cap, "dotprod") == 0) {
    f.i8mm = false;
  }
  return f;
}

const CpuFeatures& DetectCpuFeatures() {
  static const CpuFeatures features = Detect();
  return features;
}

}  // namespace edge
