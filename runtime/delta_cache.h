// Step cache: skip transformer blocks (cache regions) on a denoising step and
// reuse their residual,  output = input + delta_cached,  delta = output - input
// of the block's last run. One mechanism, several decision rules (policies):
//
//  tdc     per block (after the 6Bit-Diffusion "TDC" idea, our reconstruction):
//            r = |delta_new - delta_old|_1 / |delta_old|_1 / (steps between),
//            measured whenever the block is computed; acc += r on every later
//            step; skip while acc < threshold (per-block threshold if
//            calibrated); computing resets acc.
//  fb      first block (FBCache-like): block 0 always runs; the relative L1
//            change of its residual against the residual at the last full
//            step decides for all remaining blocks (no accumulation).
//  tea     TeaCache-like: the relative L1 change of block 0's modulated input
//            (the input of its first Linear) between consecutive steps,
//            rescaled by a polynomial (fitted by calibration; fallback: the
//            identity), accumulates; all blocks skip while acc < threshold.
//  mag     MagCache-like: the ratio of residual magnitudes between steps
//            (calibrated per step; fallback: the ratio of the last two
//            computed steps) multiplies up; acc += |1 - product|; all blocks
//            skip while acc < threshold.
//  static  compute on steps warmup + j*interval (or only on an explicit step
//            list), reuse on the others.
//  taylor  tdc decisions, but a skipped block forecasts its residual from its
//            last two computations (first order in step index):
//            delta = d1 + (d1 - d0) * (step - s1) / (s1 - s0).
//
// Shared rules: the first `warmup_steps` steps and the last step are always
// computed; dynamic policies skip at most `max_skips` times in a row; a block
// needs one computed delta (two for the rate/forecast rules) before it may be
// skipped. Each guidance branch that runs as its own graph call keeps its own
// state. threshold = 0 (static: interval <= 1 and no step list) turns the
// cache off: every block computed, results bit-identical to no cache.
// Decisions use fixed-order double sums: reproducible across runs.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "runtime/array.h"
#include "runtime/session.h"

namespace edge {

enum class CachePolicy : int {
  kNone = 0,
  kTdc = 1,
  kFirstBlock = 2,
  kTeaCache = 3,
  kMagCache = 4,
  kStatic = 5,
  kTaylor = 6,
};
constexpr int kNumCachePolicies = 7;

const char* CachePolicyName(CachePolicy p);
// Parses "none|tdc|fb|tea|mag|static|taylor"; false if unknown.
bool ParseCachePolicy(const char* s, CachePolicy* out);

struct CacheOptions {
  CachePolicy policy = CachePolicy::kTdc;
  float threshold = 0.f;   // 0: off (not used by static)
  int max_skips = 2;       // at most this many skips in a row (dynamic policies)
  int warmup_steps = 2;    // always computed at the start
  int interval = 0;        // static: compute every interval-th step after warm-up
  std::vector<int> compute_steps;       // static: explicit steps to compute (overrides interval)
  std::vector<float> block_thresholds;  // tdc/taylor: per region (empty: `threshold` for all)
  std::vector<float> tea_poly;          // tea: rescaling, highest degree first (empty: identity)
  std::vector<float> mag_ratios;        // mag: per step (empty: online estimate)
  // Every block computed, but the signals are recorded per step (calibration).
  bool probe = false;
  // Ablation: a skipped block outputs its input unchanged (its residual
  // dropped) instead of reusing it; shows what the cached residual buys.
  bool drop_instead_of_reuse = false;
  // Store residuals as INT8 with one FP32 scale per token (row of the last
  // axis): ~4x less cache memory, at a small extra error on reused steps.
  bool delta_int8 = false;
};

// Filled by the cache while generating, in Arrays sized at Create (a
// std::vector that cannot grow aborts the exception-free runtime).
struct CacheStats {
  int64_t blocks_computed = 0;
  int64_t blocks_skipped = 0;
  // Per step, summed over branches and chunks.
  Array<int64_t> step_skipped, step_computed;
  // Per step, the decision of every region of the last chunk: one char per
  // region per branch ('c' computed, 's' reused, 'f' forecast), branches
  // separated by '|'; NUL-terminated.
  Array<Array<char>> step_blocks;
  // probe: per step sums (and counts) of the signals over branches/chunks.
  Array<double> probe_tea_rel, probe_resid_rel, probe_mag;
  Array<int> probe_count;
};

// What a user asks for; ResolveCacheOptions turns it into CacheOptions using
// the model's stored calibration (edge-convert --cache-calibrate).
struct CacheRequest {
  bool automatic = false;     // the calibrated policy with the most skipping
  // No cache setting given: the entry edge-convert --target-psnr chose
  // (Model.tuning.cache_entry) if the model has one, else no cache.
  bool model_default = false;
  CachePolicy policy = CachePolicy::kNone;
  float threshold = -1.f;     // >= 0: absolute override; < 0: calibrated, else fallback
  float scale = 1.f;          // multiplies calibrated thresholds (not overrides)
  float target_psnr = 0.f;    // pick calibration entries for this target; 0: the first stored
  int interval = 0;           // static: > 0 overrides
  std::vector<int> compute_steps;  // static: explicit list
  int max_skips = -1;         // < 0: calibrated, else 2
  int warmup_steps = 2;
};
// Uncalibrated fallback thresholds (static: the interval), per policy.
float CacheFallbackThreshold(CachePolicy p);
// `calibrated` (may be null) tells whether a stored entry was used.
Status ResolveCacheOptions(const Model& model, const CacheRequest& request, CacheOptions* out,
                           bool* calibrated);

class DeltaCache {
 public:
  // `branches`: independent states (1, or 2 when cond/uncond run separately).
  // `steps`: sampler steps per generation (sizes the per-step records).
  static Result<std::unique_ptr<DeltaCache>> Create(Session* session, const CacheOptions& options,
                                                    int branches, int steps);

  bool enabled() const;
  // Forget all state (a new batch of samples).
  void Reset();
  // Runs the whole graph for `branch` at sampler step `step` of `steps`,
  // computing or skipping each region.
  Status Run(int branch, int step, int steps);

  const CacheStats& stats() const { return stats_; }
  // Hands the stats over (the cache is done with them).
  CacheStats TakeStats() { return std::move(stats_); }
  int num_regions() const { return static_cast<int>(regions_.size()); }
  // Bytes of residual storage planned for all branches (allocated in Create).
  size_t delta_bytes() const { return delta_bytes_; }

 private:
  // CacheOptions with its lists in Arrays: copying a std::vector cannot fail
  // softly (array.h). Same field names, so the rules read alike; a field
  // added to CacheOptions goes here and into CopyOptions (reading it through
  // options_ does not compile until then).
  struct Options {
    CachePolicy policy = CachePolicy::kTdc;
    float threshold = 0.f;
    int max_skips = 0, warmup_steps = 0, interval = 0;
    Array<int> compute_steps;
    Array<float> block_thresholds, tea_poly, mag_ratios;
    bool probe = false, drop_instead_of_reuse = false, delta_int8 = false;
  };
  struct RegionState {
    Array<float> delta;       // output - input at the last compute
    Array<float> delta_prev;  // the compute before (taylor only)
    // INT8 storage (delta_int8): codes and per-token scales instead of `delta`.
    Array<int8_t> q, q_prev;
    Array<float> scale, scale_prev;
    int computes = 0;
    int last_compute_step = -1;
    int prev_compute_step = -1;
    int skips_in_row = 0;
    double rate = 0.0;  // relative change of delta per step
    double acc = 0.0;
  };
  struct GlobalState {
    int computes = 0;        // full steps computed
    int last_compute_step = -1;
    int skips_in_row = 0;
    double acc = 0.0;
    double ratio_acc = 1.0;  // mag: product of ratios since the last compute
    double mag_last = 0.0, mag_prev = 0.0;
    int mag_prev_step = -1;
    Array<float> ref;  // fb: block-0 residual at the last full step; tea: last indicator
    bool has_ref = false;
  };
  struct Region {
    int first_op, last_op, input, output;
    size_t elements;
    size_t token;  // elements per token (last axis)
  };

  DeltaCache() = default;
  static bool CopyOptions(const CacheOptions& from, Options* to);
  // Computes region r, refreshing its delta (and rate).
  Status Compute(int index, RegionState* st, int step, int first_op);
  void Reuse(int index, RegionState* st, int step);
  // INT8 variant of the delta refresh; returns the rate terms.
  void StoreInt8(const Region& r, RegionState* st, const float* in, const float* out, double* diff, double* norm);
  double DeltaL1(const Region& r, const RegionState& st) const;
  Status RunPerBlock(int branch, int step, int steps);
  Status RunGlobal(int branch, int step, int steps);
  double Threshold(int region) const;
  bool Int8(size_t region) const {
    return options_.delta_int8 && !(options_.policy == CachePolicy::kFirstBlock && region == 0);
  }
  void Mark(int branch, int step, int region, char c);

  Session* session_ = nullptr;
  Options options_;
  // Arrays (array.h), all sized in Create.
  Array<Region> regions_;                 // sorted by first_op, disjoint
  Array<Array<RegionState>> states_;      // [branch][region]
  Array<GlobalState> global_;             // [branch]
  int tea_op_ = -1;      // tea: the first Linear of region 0 (its input is the indicator)
  int tea_tensor_ = -1;
  size_t tea_elements_ = 0;
  size_t delta_bytes_ = 0;
  int branches_ = 1;
  CacheStats stats_;
};

}  // namespace edge
