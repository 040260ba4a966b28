// Shared helpers of the edge-bench subcommands.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#if defined(EDGE_WITH_XNNPACK)
#include <pthreadpool.h>
#include <xnnpack.h>
#endif

namespace edge {
namespace bench {

double NowSeconds();
// CPU time of the whole process (all threads), seconds.
double ProcessCpuSeconds();
double Median(std::vector<double> v);
double Min(const std::vector<double>& v);

// Peak throughput of one core measured with an in-register loop (no memory),
// timed in thread CPU time:
// vpdpbusd (int8 ops: 2 per multiply-add) and FP32 FMA (2 flop each), in
// G op/s. 0 when the CPU lacks the instruction.
double MeasureInt8DotPeak();
double MeasureFp32FmaPeak();
// vpmaddwd on ymm (int16 pairs: 2 ops per multiply-add), what the AVX2 INT8
// kernels multiply with where there is no VNNI. 0 without AVX2.
double MeasureInt16MaddPeak();
// The int16-pair product an INT8 attention tile uses: vpmaddwd on ymm (AVX2)
// or zmm (AVX-512BW), vpdpwssd on zmm (AVX-512 VNNI); 2 ops per
// multiply-add. 0 when the CPU lacks it.
enum class Int16PairOp { kVpmaddwdYmm, kVpmaddwdZmm, kVpdpwssdZmm };
double MeasureInt16PairPeak(Int16PairOp op);

// One runnable candidate of an A/B benchmark: a name, a function on a
// context, and the wall / per-thread CPU times of its runs.
struct Candidate {
  std::string precision, kernel;
  void (*run)(void* ctx);
  void* ctx;
  std::vector<double> times, cpu;
};

// Two warm-up runs of each candidate (first touch of outputs and scratch,
// caches), then `reps` rounds running every candidate once in turn, so that
// all of them see the same machine state.
void RunAlternating(std::vector<Candidate>& cands, int reps, int threads);

#if defined(EDGE_WITH_XNNPACK)
// An XNNPACK operator as a Candidate's context: RunXnnOperator runs it on
// `pool` (the 2022 API takes the pool at run time; setup ignores it).
struct XnnRun {
  xnn_operator_t op = nullptr;
  pthreadpool_t pool = nullptr;
};
void RunXnnOperator(void* ctx);
#endif

}  // namespace bench
}  // namespace edge
