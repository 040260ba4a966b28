#include "runtime/sampler.h"

#include <cmath>

namespace edge {

SamplerConfig SamplerConfigFromModel(const fb::Pipeline* p) {
  SamplerConfig c;
  if (p == nullptr) return c;
  c.kind = p->sampler();
  c.prediction = p->prediction();
  c.train_steps = p->train_steps();
  c.shift = p->shift();
  c.timestep_scale = p->timestep_scale();
  c.beta_schedule = p->beta_schedule();
  c.beta_start = p->beta_start();
  c.beta_end = p->beta_end();
  return c;
}

Result<Sampler> Sampler::Create(const SamplerConfig& config, int steps) {
  EDGE_CHECK_OR_RETURN(steps >= 1 && steps <= 10000, StatusCode::kInvalidArgument,
                       "sampler: steps must be in [1, 10000], got %d", steps);
  Sampler s;
  s.config_ = config;
  s.steps_ = steps;
  EDGE_CHECK_OR_RETURN(s.model_t_.Reset(steps) && s.sigma_.Reset(steps + 1), StatusCode::kOutOfMemory,
                       "sampler: out of memory for %d steps", steps);
  if (config.kind == fb::Sampler::FlowEuler) {
    EDGE_CHECK_OR_RETURN(config.prediction == fb::Prediction::Velocity, StatusCode::kUnsupported,
                         "sampler: flow matching needs velocity prediction");
    EDGE_CHECK_OR_RETURN(std::isfinite(config.shift) && config.shift > 0, StatusCode::kInvalidArgument,
                         "sampler: shift must be positive, got %g", config.shift);
    for (int i = 0; i <= steps; ++i) {
      const double t = 1.0 - double(i) / steps;
      const double ts = config.shift * t / (1.0 + (config.shift - 1.0) * t);
      s.sigma_[i] = static_cast<float>(ts);
      if (i < steps) s.model_t_[i] = static_cast<float>(ts * config.timestep_scale);
    }
    return s;
  }
  // DDIM
  const int T = config.train_steps;
  EDGE_CHECK_OR_RETURN(T >= steps && T <= 100000, StatusCode::kInvalidArgument,
                       "sampler: DDIM needs steps (%d) <= train_steps (%d) <= 100000", steps, T);
  Array<double> ab;
  EDGE_CHECK_OR_RETURN(ab.Reset(T), StatusCode::kOutOfMemory, "sampler: out of memory for %d training steps", T);
  double prod = 1.0;
  for (int i = 0; i < T; ++i) {
    const double f = T > 1 ? double(i) / (T - 1) : 0.0;
    double beta;
    if (config.beta_schedule == fb::BetaSchedule::ScaledLinear) {
      const double a = std::sqrt(double(config.beta_start)), b = std::sqrt(double(config.beta_end));
      beta = (a + (b - a) * f) * (a + (b - a) * f);
    } else {
      beta = config.beta_start + (config.beta_end - config.beta_start) * f;
    }
    prod *= (1.0 - beta);
    ab[i] = prod;
  }
  const int ratio = T / steps;
  EDGE_CHECK_OR_RETURN(s.alpha_bar_.Reset(steps + 1), StatusCode::kOutOfMemory,
                       "sampler: out of memory for %d steps", steps);
  for (int i = 0; i < steps; ++i) {
    const int t = (steps - 1 - i) * ratio;
    s.model_t_[i] = static_cast<float>(t);
    s.alpha_bar_[i] = ab[t];
    s.sigma_[i] = static_cast<float>(std::sqrt(1.0 - ab[t]));
  }
  s.alpha_bar_[steps] = 1.0;
  s.sigma_[steps] = 0.f;
  return s;
}

void Sampler::Step(int i, float* x, const float* pred, size_t n) const {
  if (config_.kind == fb::Sampler::FlowEuler) {
    const float dt = sigma_[i + 1] - sigma_[i];
    for (size_t j = 0; j < n; ++j) x[j] += dt * pred[j];
    return;
  }
  const double a = alpha_bar_[i], a_prev = alpha_bar_[i + 1];
  const double sa = std::sqrt(a), s1a = std::sqrt(1.0 - a);
  const double sp = std::sqrt(a_prev), s1p = std::sqrt(1.0 - a_prev);
  for (size_t j = 0; j < n; ++j) {
    const double xt = x[j], out = pred[j];
    double x0, eps;
    switch (config_.prediction) {
      case fb::Prediction::Epsilon:
        eps = out;
        x0 = (xt - s1a * eps) / sa;
        break;
      case fb::Prediction::Velocity:
        x0 = sa * xt - s1a * out;
        eps = sa * out + s1a * xt;
        break;
      default:  // Sample
        x0 = out;
        eps = (xt - sa * x0) / s1a;
        break;
    }
    x[j] = static_cast<float>(sp * x0 + s1p * eps);
  }
}

}  // namespace edge
