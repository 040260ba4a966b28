// Guidance reuse: with classifier-free guidance every step runs the model
// twice, once with the condition and once with the null condition. The
// guidance direction g = cond - uncond changes slowly from step to step
// (the observation behind FasterCache's CFG cache and adaptive guidance), so
// on most steps the unconditional run can be replaced by an estimate of g
// from the last computed steps:
//
//   uncond_est = cond - g_est,   guided = uncond_est + s (cond - uncond_est)
//                                       = cond + (s - 1) g_est
//
//   order 0: g_est = g at the last computed step;
//   order 1: g_est = g1 + (g1 - g0) (step - s1) / (s1 - s0), a first-order
//            forecast from the last two computed steps (order 0 until two
//            exist).
//
// Schedule: the unconditional run happens on the first `warmup_steps`
// steps, on the last step, and on every `interval`-th step after warm-up;
// interval <= 1 turns reuse off (every step computed, results bit-identical
// to no reuse). Each reused step saves one of the two graph runs; it
// composes with the step cache (which then sees fewer steps of the
// unconditional branch) and with every kernel approximation.
//
// A model whose graph pairs cond and uncond rows in one batch (even batch B)
// runs them as two separate calls of B samples while reuse is on, so one can
// be left out; the pipeline does so only when that makes fewer graph calls
// (with fewer than B/2 + 1 samples it does not: the batch would run half
// empty) and otherwise keeps the paired calls without reuse.
#pragma once

#include <cstddef>
#include "runtime/array.h"
#include "runtime/status.h"

namespace edge {

struct GuidanceReuseOptions {
  int interval = 0;      // <= 1: off; k: uncond computed every k-th step after warm-up
  int warmup_steps = 2;  // always computed at the start
  int order = 1;         // 0: reuse the last g; 1: extrapolate from the last two
};

bool GuidanceReuseEnabled(const GuidanceReuseOptions& o);
// Range checks (interval in [0, 10000], warm-up in [0, 10000], order 0 or 1).
Status ValidateGuidanceReuse(const GuidanceReuseOptions& o);
// Whether the unconditional branch runs at `step` of `steps`.
bool GuidanceComputeStep(const GuidanceReuseOptions& o, int step, int steps);

// Holds g for `samples` samples of `elements` values each (allocated in Init,
// kOutOfMemory if that fails; none afterwards).
class GuidanceReuse {
 public:
  Status Init(const GuidanceReuseOptions& options, int samples, size_t elements);
  void Reset();  // a new chunk of samples
  // After a computed step: remember g = cond - uncond of sample k.
  void Record(int k, int step, const float* cond, const float* uncond);
  // Call once per computed step, after Record for all samples.
  void Commit(int step);
  // On a reused step: writes the estimate of uncond for sample k.
  void Estimate(int k, int step, const float* cond, float* uncond) const;

 private:
  GuidanceReuseOptions options_;
  size_t elements_ = 0;
  Array<float> g1_, g0_;  // g at the last / the one before computed step (Arrays: see array.h)
  int s1_ = -1, s0_ = -1;
};

}  // namespace edge
