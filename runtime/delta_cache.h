// Temporal delta cache: skip a whole transformer block (a cache region) on a
// denoising step when its residual delta has been stable, and reuse it:
//   output = input + delta_cached,  delta = output - input of the last run.
//
// Decision per block (after the 6Bit-Diffusion "TDC" idea, our reconstruction):
//   r    = |delta_new - delta_old|_1 / |delta_old|_1 / (steps between them),
//          measured whenever the block is computed;
//   acc += r on every later step; the block is skipped while acc < threshold
//          and it has been skipped fewer than max_skips times in a row;
//          computing it resets acc.
// The first `warmup_steps` steps and the last step are always computed, and a
// block needs two computed deltas before it may be skipped. Each guidance
// branch that runs as its own graph call keeps its own state. threshold = 0
// turns the cache off (every block computed, results bit-identical).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "runtime/session.h"

namespace edge {

struct CacheOptions {
  float threshold = 0.f;  // 0: off
  int max_skips = 2;      // at most this many skips in a row per block
  int warmup_steps = 2;   // always computed at the start
};

struct CacheStats {
  int64_t blocks_computed = 0;
  int64_t blocks_skipped = 0;
};

class DeltaCache {
 public:
  // `branches`: independent states (1, or 2 when cond/uncond run separately).
  static Result<std::unique_ptr<DeltaCache>> Create(Session* session, const CacheOptions& options,
                                                    int branches);

  bool enabled() const { return options_.threshold > 0.f && !regions_.empty(); }
  // Forget all state (a new batch of samples).
  void Reset();
  // Runs the whole graph for `branch` at sampler step `step` of `steps`,
  // computing or skipping each region.
  Status Run(int branch, int step, int steps);

  const CacheStats& stats() const { return stats_; }
  int num_regions() const { return static_cast<int>(regions_.size()); }

 private:
  struct RegionState {
    std::vector<float> delta;  // output - input at the last compute
    int computes = 0;
    int last_compute_step = -1;
    int skips_in_row = 0;
    double rate = 0.0;  // relative change of delta per step
    double acc = 0.0;
  };
  struct Region {
    int first_op, last_op, input, output;
    size_t elements;
  };

  DeltaCache() = default;
  Status RunRegion(const Region& r, RegionState* st, int step, int steps);

  Session* session_ = nullptr;
  CacheOptions options_;
  std::vector<Region> regions_;                    // sorted by first_op, disjoint
  std::vector<std::vector<RegionState>> states_;   // [branch][region]
  CacheStats stats_;
};

}  // namespace edge
