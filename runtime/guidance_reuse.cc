#include "runtime/guidance_reuse.h"

#include <cstring>

namespace edge {

bool GuidanceReuseEnabled(const GuidanceReuseOptions& o) { return o.interval > 1; }

Status ValidateGuidanceReuse(const GuidanceReuseOptions& o) {
  EDGE_CHECK_OR_RETURN(o.interval >= 0 && o.interval <= 10000, StatusCode::kInvalidArgument,
                       "guidance reuse: interval must be in [0, 10000], got %d", o.interval);
  EDGE_CHECK_OR_RETURN(o.warmup_steps >= 0 && o.warmup_steps <= 10000, StatusCode::kInvalidArgument,
                       "guidance reuse: warm-up must be in [0, 10000], got %d", o.warmup_steps);
  EDGE_CHECK_OR_RETURN(o.order == 0 || o.order == 1, StatusCode::kInvalidArgument,
                       "guidance reuse: order must be 0 or 1, got %d", o.order);
  return Status::Ok();
}

bool GuidanceComputeStep(const GuidanceReuseOptions& o, int step, int steps) {
  if (!GuidanceReuseEnabled(o)) return true;
  if (step < o.warmup_steps || step >= steps - 1) return true;
  return (step - o.warmup_steps) % o.interval == 0;
}

Status GuidanceReuse::Init(const GuidanceReuseOptions& options, int samples, size_t elements) {
  EDGE_RETURN_IF_ERROR(ValidateGuidanceReuse(options));
  options_ = options;
  elements_ = elements;
  if (!GuidanceReuseEnabled(options)) return Status::Ok();
  const size_t n = static_cast<size_t>(samples) * elements;
  EDGE_CHECK_OR_RETURN(g1_.Reset(n) && (options.order != 1 || g0_.Reset(n)), StatusCode::kOutOfMemory,
                       "guidance reuse: out of memory for %zu values", n);
  Reset();
  return Status::Ok();
}

void GuidanceReuse::Reset() { s1_ = s0_ = -1; }

void GuidanceReuse::Record(int k, int step, const float* cond, const float* uncond) {
  (void)step;
  float* g1 = g1_.data() + static_cast<size_t>(k) * elements_;
  if (options_.order == 1 && s1_ >= 0) {
    std::memcpy(g0_.data() + static_cast<size_t>(k) * elements_, g1, elements_ * sizeof(float));
  }
  for (size_t j = 0; j < elements_; ++j) g1[j] = cond[j] - uncond[j];
}

void GuidanceReuse::Commit(int step) {
  s0_ = s1_;
  s1_ = step;
}

void GuidanceReuse::Estimate(int k, int step, const float* cond, float* uncond) const {
  const float* g1 = g1_.data() + static_cast<size_t>(k) * elements_;
  if (options_.order == 1 && s0_ >= 0 && s1_ > s0_) {
    const float* g0 = g0_.data() + static_cast<size_t>(k) * elements_;
    const float a = static_cast<float>(step - s1_) / static_cast<float>(s1_ - s0_);
    for (size_t j = 0; j < elements_; ++j) uncond[j] = cond[j] - (g1[j] + (g1[j] - g0[j]) * a);
    return;
  }
  for (size_t j = 0; j < elements_; ++j) uncond[j] = cond[j] - g1[j];
}

}  // namespace edge
