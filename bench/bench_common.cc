#include "bench/bench_common.h"

#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include "ops/cpu_features.h"

namespace edge {
namespace bench {

Args::Args(int argc, char** argv) : args_(argv, argv + argc), used_(args_.size(), false) {}

int Args::Find(const char* name) const {
  const std::string key = std::string("--") + name;
  for (size_t i = 0; i < args_.size(); ++i) {
    if (args_[i] == key) {
      used_[i] = true;
      return static_cast<int>(i);
    }
  }
  return -1;
}
bool Args::Has(const char* name) const { return Find(name) >= 0; }
long Args::Int(const char* name, long def) const {
  return std::atol(Str(name, std::to_string(def).c_str()).c_str());
}
std::string Args::Str(const char* name, const char* def) const {
  const int i = Find(name);
  if (i < 0 || static_cast<size_t>(i) + 1 >= args_.size()) return def;
  used_[i + 1] = true;
  return args_[i + 1];
}
std::vector<std::string> Args::Unused() const {
  std::vector<std::string> out;
  for (size_t i = 0; i < args_.size(); ++i)
    if (!used_[i]) out.push_back(args_[i]);
  return out;
}

double NowSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}
double Min(const std::vector<double>& v) { return v.empty() ? 0 : *std::min_element(v.begin(), v.end()); }

#if defined(__x86_64__)
// 16 independent accumulator chains hide the instruction latency.
__attribute__((target("avx512f,avx512bw,avx512vnni"), noinline)) static double DotLoop512(long iters) {
  __m512i acc[16];
  for (int i = 0; i < 16; ++i) acc[i] = _mm512_set1_epi32(i);
  const __m512i a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(-2);
  const double t0 = NowSeconds();
  for (long it = 0; it < iters; ++it) {
    for (int i = 0; i < 16; ++i) acc[i] = _mm512_dpbusd_epi32(acc[i], a, b);
    __asm__ volatile("" : "+v"(acc[0]), "+v"(acc[1]), "+v"(acc[2]), "+v"(acc[3]));
  }
  const double t = NowSeconds() - t0;
  __m512i s = acc[0];
  for (int i = 1; i < 16; ++i) s = _mm512_add_epi32(s, acc[i]);
  volatile int sink = _mm512_reduce_add_epi32(s);
  (void)sink;
  return double(iters) * 16 * 64 * 2 / t * 1e-9;
}
__attribute__((target("avx512f"), noinline)) static double FmaLoop512(long iters) {
  __m512 acc[16];
  for (int i = 0; i < 16; ++i) acc[i] = _mm512_set1_ps(float(i));
  const __m512 a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(1e-7f);
  const double t0 = NowSeconds();
  for (long it = 0; it < iters; ++it) {
    for (int i = 0; i < 16; ++i) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
    __asm__ volatile("" : "+v"(acc[0]), "+v"(acc[1]), "+v"(acc[2]), "+v"(acc[3]));
  }
  const double t = NowSeconds() - t0;
  __m512 s = acc[0];
  for (int i = 1; i < 16; ++i) s = _mm512_add_ps(s, acc[i]);
  volatile float sink = _mm512_reduce_add_ps(s);
  (void)sink;
  return double(iters) * 16 * 16 * 2 / t * 1e-9;
}
__attribute__((target("avx2,fma"), noinline)) static double FmaLoop256(long iters) {
  __m256 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm256_set1_ps(float(i));
  const __m256 a = _mm256_set1_ps(0.999f), b = _mm256_set1_ps(1e-7f);
  const double t0 = NowSeconds();
  for (long it = 0; it < iters; ++it) {
    for (int i = 0; i < 12; ++i) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
    __asm__ volatile("" : "+x"(acc[0]), "+x"(acc[1]));
  }
  const double t = NowSeconds() - t0;
  __m256 s = acc[0];
  for (int i = 1; i < 12; ++i) s = _mm256_add_ps(s, acc[i]);
  alignas(32) float out[8];
  _mm256_store_ps(out, s);
  volatile float sink = out[0];
  (void)sink;
  return double(iters) * 12 * 8 * 2 / t * 1e-9;
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

}  // namespace bench
}  // namespace edge
