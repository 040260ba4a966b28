// Samplers that turn model predictions into the next latent.
//
// FlowEuler (rectified flow / flow matching, velocity prediction):
//   x_t = (1 - t) x0 + t noise, v = noise - x0, t from 1 to 0 in `steps`
//   uniform steps, optionally shifted t' = s t / (1 + (s - 1) t);
//   x_{next} = x + (t'_next - t'_cur) v; the model sees t' * timestep_scale.
// DDIM (eta = 0, "leading" spacing, alpha_bar of the final step = 1):
//   epsilon / velocity / sample prediction; the model sees the integer
//   training timestep.
#pragma once

#include <cstddef>
#include "runtime/array.h"
#include "runtime/status.h"
#include "schema/edge_model_generated.h"

namespace edge {

struct SamplerConfig {
  fb::Sampler kind = fb::Sampler::FlowEuler;
  fb::Prediction prediction = fb::Prediction::Velocity;
  int train_steps = 1000;
  float shift = 1.f;
  float timestep_scale = 1000.f;
  fb::BetaSchedule beta_schedule = fb::BetaSchedule::Linear;
  float beta_start = 1e-4f, beta_end = 0.02f;
};

SamplerConfig SamplerConfigFromModel(const fb::Pipeline* p);

// The training betas DDIM accepts (the validator's rule and the converter's):
// 0 < start <= end < 1.
inline bool DdimBetasValid(float start, float end) { return start > 0.f && start <= end && end < 1.f; }

class Sampler {
 public:
  // Allocates the schedule (call before generation, not per step);
  // kOutOfMemory when it cannot.
  static Result<Sampler> Create(const SamplerConfig& config, int steps);

  int steps() const { return steps_; }
  // Timestep fed to the model at step i (0 <= i < steps).
  float model_timestep(int i) const { return model_t_[i]; }
  // Noise level of step i, for logging (flow: t'; DDIM: sqrt(1 - alpha_bar)).
  float sigma(int i) const { return sigma_[i]; }
  // x <- next latent, given the (guided) prediction for step i.
  void Step(int i, float* x, const float* pred, size_t n) const;

 private:
  SamplerConfig config_;
  int steps_ = 0;
  Array<float> model_t_;       // Arrays: see array.h
  Array<float> sigma_;         // steps + 1 entries
  Array<double> alpha_bar_;    // DDIM: steps + 1 entries (last = 1)
};

}  // namespace edge
