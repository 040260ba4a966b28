// edge-convert --target-psnr: picks every approximation for the user.
//
// Runs calibration generations through the runtime (FP32 as the reference)
// and searches greedily for the configuration with the lowest predicted time
// (converter/tune_cost.h) whose calibration output keeps the target:
//  1. each approximation alone: weights int8 / nvfp4, INT8 attention,
//     cluster-sparse attention at three routing budgets, token reuse in
//     attention (ops/attention_row_reuse.h) at three thresholds, guidance
//     reuse (runtime/guidance_reuse.h) at ten warm-up/interval/order
//     schedules;
//  2. the approximations that kept the target alone are combined in order of
//     the time they save, each at its cheapest value that still keeps the
//     target together with those already taken (cluster-sparse attention and
//     token reuse exclude each other: the runtime runs one or the other);
//  3. on top of that, per cache policy, the largest threshold (static: the
//     longest interval) that keeps the target, by bisection over a fixed
//     ladder; the cheapest policy wins when it saves time. Guidance reuse and
//     token reuse reuse work across steps as the cache does and spend the
//     same quality budget, so if step 2 took either, the cache is also
//     searched on a second base combined without them;
//  4. on that second base, token reuse and guidance reuse are combined once
//     more on top of its cache; the faster of the two bases wins.
// Configurations are measured once: a repeat takes the earlier result.
// Quality is the PSNR of all calibration samples together, and it must reach
// the target plus a margin (--tune-margin), because a configuration chosen on
// a few samples does worse on others. The choice is then measured on held-back
// classes and seeds (reported, not used), with the measured speed-up.
// Every generation runs one session on one thread (fixed reduction order):
// the same inputs give the same choice.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "runtime/writer/model_writer.h"

namespace edge {
namespace conv {

struct TuneOptions {
  float target_psnr = 0.f;         // dB vs FP32
  float margin_db = 3.f;           // calibration PSNR must reach target + margin
  std::vector<int64_t> classes;    // calibration classes (default: the first 4)
  std::vector<int64_t> holdout;    // held-back classes (default: 2 not in `classes`)
  bool holdout_off = false;
  int seeds = 1;                   // noise seeds per class (calibration seeds start at 1000)
  int threads = 1;                 // generations in parallel (same result for any N)
  std::string isa;                 // cost-model row (empty: this machine)
  std::vector<int> cache_policies; // CachePolicy values to try (default tdc, taylor, mag, static)
  bool guidance_reuse = true;      // try guidance reuse (guided models only)
  // Try token reuse in attention. Off by default: on the video demo model it
  // over-fits the calibration classes (35.9 dB there, 28.6 held back, beside
  // 30.8 for the same configuration without it), and under the step cache it
  // recomputes 93% of the rows at a measured cost, not a gain
  // (bench/results/speed_quality_video_tuned_v2.md).
  bool token_reuse = false;
  // Also run the full grid (every value of every knob, every rung of every
  // cache policy) and report its best configuration at the target beside the
  // greedy choice: how much the greedy search leaves (slow: hundreds of runs).
  bool grid = false;
};

struct TuneConfig {
  int weights = 0;          // 0 fp32, 1 int8, 2 nvfp4
  int attention = 0;        // AttentionPrecision
  float err_tol = 0.f;      // > 0: cluster-sparse attention with this routing budget
  int cache_policy = 0;     // CachePolicy (0: none)
  float cache_threshold = 0.f;  // static: the interval
  int max_skips = 2;
  int guidance_interval = 0;    // guidance reuse: every k-th step (0: off)
  int guidance_warmup = 2;
  int guidance_order = 1;
  float token_reuse = 0.f;      // > 0: token reuse in attention at this threshold
  // Results on the calibration set.
  float psnr = 0.f, worst_psnr = 0.f, skip_fraction = 0.f, exact_fraction = 1.f;
  float rows_fraction = 1.f;    // token reuse: attention query rows computed
  bool guidance_applied = false;  // guidance reuse ran (the pipeline declines it where it costs calls)
  double seconds = 0.0;     // predicted by the cost model
  bool ok = false;          // keeps target + margin
  std::string step;         // search stage that ran it
};
std::string DescribeConfig(const TuneConfig& c);  // "int8 weights, INT8 attention, cache tdc 0.08"

struct TuneReport {
  bool improved = false;    // false: nothing beat FP32 (the model stays FP32)
  TuneConfig chosen, baseline;
  std::vector<TuneConfig> trace;
  std::string isa, isa_source;
  float holdout_psnr = -1.f, holdout_worst = -1.f;
  double holdout_speedup = 0.0;  // measured: FP32 CPU time / chosen CPU time, held-back set
  double predicted_speedup = 1.0;
  bool grid_ran = false;
  TuneConfig grid_best;            // fastest grid point keeping target + margin
  int grid_points = 0;
  int generations = 0;
  double wall_seconds = 0.0;
  CacheCalibrationInfo cache_info;  // signals + the chosen entry (policies[0]) when a cache is chosen
};

// `image(w)`: the finished model file with weights w (0 fp32, 1 int8, 2
// nvfp4), as edge-convert would write it. Errors -> ConvertError.
TuneReport Tune(const std::function<const std::vector<uint8_t>&(int)>& image, const TuneOptions& o);

}  // namespace conv
}  // namespace edge
