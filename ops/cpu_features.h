// CPU features that select kernels, detected once (cpuinfo where available).
#pragma once

namespace edge {

struct CpuFeatures {
  // x86
  bool avx2 = false;
  bool fma = false;
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512vl = false;
  bool avx512vnni = false;
  bool avxvnni = false;
  // ARM
  bool neon = false;
  bool neon_fma = false;  // VFPv4's fused multiply-add (always with AArch64 NEON)
  bool dotprod = false;
  bool i8mm = false;
};

// Features of the CPU we run on (cached after the first call). Setting the
// environment variable EDGE_ISA_CAP=scalar|avx2|avx512|neon|... caps what is
// reported, so tests can exercise every variant the machine supports.
const CpuFeatures& DetectCpuFeatures();

// `f` capped as EDGE_ISA_CAP=`cap` caps it (null or an unknown name: unchanged).
CpuFeatures CapCpuFeatures(CpuFeatures f, const char* cap);

}  // namespace edge
