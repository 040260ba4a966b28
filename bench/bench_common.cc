#include "bench/bench_common.h"

#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdlib>
#include <cstring>

#include "ops/cpu_features.h"

namespace edge {
namespace bench {

double NowSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
double ProcessCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}
// The peak loops time themselves with the thread's CPU clock: on a shared
// machine that counts only the time the loop actually ran.
static double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}
double Min(const std::vector<double>& v) { return v.empty() ? 0 : *std::min_element(v.begin(), v.end()); }

#if defined(__x86_64__)
// 16 independent accumulator chains hide the instruction latency. Written
// in assembly so that the compiler cannot keep accumulators in memory.
#define EDGE_X16(op, acc_prefix) \
  op " %%zmm16, %%zmm17, %%zmm0\n\t" op " %%zmm16, %%zmm17, %%zmm1\n\t"    \
  op " %%zmm16, %%zmm17, %%zmm2\n\t" op " %%zmm16, %%zmm17, %%zmm3\n\t"    \
  op " %%zmm16, %%zmm17, %%zmm4\n\t" op " %%zmm16, %%zmm17, %%zmm5\n\t"    \
  op " %%zmm16, %%zmm17, %%zmm6\n\t" op " %%zmm16, %%zmm17, %%zmm7\n\t"    \
  op " %%zmm16, %%zmm17, %%zmm8\n\t" op " %%zmm16, %%zmm17, %%zmm9\n\t"    \
  op " %%zmm16, %%zmm17, %%zmm10\n\t" op " %%zmm16, %%zmm17, %%zmm11\n\t"  \
  op " %%zmm16, %%zmm17, %%zmm12\n\t" op " %%zmm16, %%zmm17, %%zmm13\n\t"  \
  op " %%zmm16, %%zmm17, %%zmm14\n\t" op " %%zmm16, %%zmm17, %%zmm15\n\t"
#define EDGE_CLOBBER16 "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", \
  "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17"

// One zmm peak loop: `op` on 16 accumulator chains, `macs` multiply-adds per
// instruction (2 ops each).
#define EDGE_ZMM_PEAK_LOOP(fn, isa, op, macs)                             \
  __attribute__((target(isa), noinline)) static double fn(long iters) {  \
    const double t0 = ThreadCpuSeconds();                                \
    long n = iters;                                                      \
    __asm__ volatile(                                                    \
        "vpxord %%zmm16, %%zmm16, %%zmm16\n\t"                            \
        "vpxord %%zmm17, %%zmm17, %%zmm17\n\t"                            \
        "1:\n\t" EDGE_X16(op, "") "dec %0\n\t"                           \
        "jnz 1b\n\t"                                                     \
        : "+r"(n)                                                        \
        :                                                                \
        : EDGE_CLOBBER16, "cc");                                         \
    const double t = ThreadCpuSeconds() - t0;                            \
    return double(iters) * 16 * (macs) * 2 / t * 1e-9;                   \
  }
// vpdpbusd zmm: 64 u8 x s8 multiply-adds (the VNNI GEMMs); vpdpwssd zmm: 32
// int16 ones, accumulated (the AVX-512 VNNI attention tile); vpmaddwd zmm:
// the same products without the accumulation (AVX-512BW); FP32 FMA on zmm.
EDGE_ZMM_PEAK_LOOP(DotLoop512, "avx512f,avx512bw,avx512vnni", "vpdpbusd", 64)
EDGE_ZMM_PEAK_LOOP(WordDotLoop512, "avx512f,avx512bw,avx512vnni", "vpdpwssd", 32)
EDGE_ZMM_PEAK_LOOP(MaddLoop512, "avx512f,avx512bw", "vpmaddwd", 32)
EDGE_ZMM_PEAK_LOOP(FmaLoop512, "avx512f", "vfmadd231ps", 16)
__attribute__((target("avx2,fma"), noinline)) static double FmaLoop256(long iters) {
  const double t0 = ThreadCpuSeconds();
  long n = iters;
  __asm__ volatile(
      "vxorps %%ymm14, %%ymm14, %%ymm14\n\t"
      "vxorps %%ymm15, %%ymm15, %%ymm15\n\t"
      "1:\n\t"
      "vfmadd231ps %%ymm14, %%ymm15, %%ymm0\n\tvfmadd231ps %%ymm14, %%ymm15, %%ymm1\n\t"
      "vfmadd231ps %%ymm14, %%ymm15, %%ymm2\n\tvfmadd231ps %%ymm14, %%ymm15, %%ymm3\n\t"
      "vfmadd231ps %%ymm14, %%ymm15, %%ymm4\n\tvfmadd231ps %%ymm14, %%ymm15, %%ymm5\n\t"
      "vfmadd231ps %%ymm14, %%ymm15, %%ymm6\n\tvfmadd231ps %%ymm14, %%ymm15, %%ymm7\n\t"
      "vfmadd231ps %%ymm14, %%ymm15, %%ymm8\n\tvfmadd231ps %%ymm14, %%ymm15, %%ymm9\n\t"
      "vfmadd231ps %%ymm14, %%ymm15, %%ymm10\n\tvfmadd231ps %%ymm14, %%ymm15, %%ymm11\n\t"
      "dec %0\n\t"
      "jnz 1b\n\t"
      : "+r"(n)
      :
      : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
        "xmm11", "xmm14", "xmm15", "cc");
  const double t = ThreadCpuSeconds() - t0;
  return double(iters) * 12 * 8 * 2 / t * 1e-9;
}
// vpmaddwd ymm: 16 int16 multiply-adds (32 ops) per instruction, accumulated
// in place (the result feeds the next one of the same chain), 12 chains.
__attribute__((target("avx2"), noinline)) static double MaddLoop256(long iters) {
  const double t0 = ThreadCpuSeconds();
  long n = iters;
  __asm__ volatile(
      "vpxor %%ymm15, %%ymm15, %%ymm15\n\t"
      "1:\n\t"
      "vpmaddwd %%ymm15, %%ymm0, %%ymm0\n\tvpmaddwd %%ymm15, %%ymm1, %%ymm1\n\t"
      "vpmaddwd %%ymm15, %%ymm2, %%ymm2\n\tvpmaddwd %%ymm15, %%ymm3, %%ymm3\n\t"
      "vpmaddwd %%ymm15, %%ymm4, %%ymm4\n\tvpmaddwd %%ymm15, %%ymm5, %%ymm5\n\t"
      "vpmaddwd %%ymm15, %%ymm6, %%ymm6\n\tvpmaddwd %%ymm15, %%ymm7, %%ymm7\n\t"
      "vpmaddwd %%ymm15, %%ymm8, %%ymm8\n\tvpmaddwd %%ymm15, %%ymm9, %%ymm9\n\t"
      "vpmaddwd %%ymm15, %%ymm10, %%ymm10\n\tvpmaddwd %%ymm15, %%ymm11, %%ymm11\n\t"
      "dec %0\n\t"
      "jnz 1b\n\t"
      : "+r"(n)
      :
      : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
        "xmm11", "xmm15", "cc");
  const double t = ThreadCpuSeconds() - t0;
  return double(iters) * 12 * 16 * 2 / t * 1e-9;
}
#endif

double MeasureInt8DotPeak() {
#if defined(__x86_64__)
  const CpuFeatures& f = DetectCpuFeatures();
  if (!f.avx512vnni) return 0;
  double best = 0;
  for (int i = 0; i < 5; ++i) best = std::max(best, DotLoop512(2000000));
  return best;
#else
  return 0;
#endif
}

double MeasureInt16MaddPeak() {
#if defined(__x86_64__)
  const CpuFeatures& f = DetectCpuFeatures();
  if (!f.avx2) return 0;
  double best = 0;
  for (int i = 0; i < 5; ++i) best = std::max(best, MaddLoop256(2000000));
  return best;
#else
  return 0;
#endif
}

double MeasureInt16PairPeak(Int16PairOp op) {
#if defined(__x86_64__)
  const CpuFeatures& f = DetectCpuFeatures();
  double best = 0;
  for (int i = 0; i < 5; ++i) {
    if (op == Int16PairOp::kVpdpwssdZmm && f.avx512vnni) best = std::max(best, WordDotLoop512(2000000));
    if (op == Int16PairOp::kVpmaddwdZmm && f.avx512bw) best = std::max(best, MaddLoop512(2000000));
  }
  if (op == Int16PairOp::kVpmaddwdYmm) best = MeasureInt16MaddPeak();
  return best;
#else
  (void)op;
  return 0;
#endif
}

double MeasureFp32FmaPeak() {
#if defined(__x86_64__)
  const CpuFeatures& f = DetectCpuFeatures();
  double best = 0;
  for (int i = 0; i < 5; ++i) {
    if (f.avx512f) best = std::max(best, FmaLoop512(2000000));
    else if (f.avx2 && f.fma) best = std::max(best, FmaLoop256(2000000));
  }
  return best;
#else
  return 0;
#endif
}

void RunAlternating(std::vector<Candidate>& cands, int reps, int threads) {
  for (Candidate& c : cands)
    for (int i = 0; i < 2; ++i) c.run(c.ctx);
  for (int r = 0; r < reps; ++r) {
    for (Candidate& c : cands) {
      const double c0 = ProcessCpuSeconds(), t0 = NowSeconds();
      c.run(c.ctx);
      c.times.push_back(NowSeconds() - t0);
      c.cpu.push_back((ProcessCpuSeconds() - c0) / threads);
    }
  }
}

#if defined(EDGE_WITH_XNNPACK)
void RunXnnOperator(void* ctx) {
  XnnRun* r = static_cast<XnnRun*>(ctx);
  xnn_run_operator(r->op, r->pool);
}
#endif

}  // namespace bench
}  // namespace edge
