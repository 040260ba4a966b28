#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/noise.h"
#include "runtime/sampler.h"

namespace edge {
namespace {

TEST(Noise, PhiloxKnownAnswer) {
  // Random123's published known-answer vectors for philox4x32-10.
  const uint32_t zero_ctr[4] = {0, 0, 0, 0}, zero_key[2] = {0, 0};
  uint32_t out[4];
  Philox4x32(zero_ctr, zero_key, out);
  EXPECT_EQ(out[0], 0x6627e8d5u);
  EXPECT_EQ(out[1], 0xe169c58du);
  EXPECT_EQ(out[2], 0xbc57ac4cu);
  EXPECT_EQ(out[3], 0x9b00dbd8u);
  const uint32_t ones_ctr[4] = {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu};
  const uint32_t ones_key[2] = {0xffffffffu, 0xffffffffu};
  Philox4x32(ones_ctr, ones_key, out);
  EXPECT_EQ(out[0], 0x408f276du);
  EXPECT_EQ(out[1], 0x41c83b0eu);
  EXPECT_EQ(out[2], 0xa20bc7c6u);
  EXPECT_EQ(out[3], 0x6d5451fdu);
}

TEST(Noise, DeterministicStreamsAndMoments) {
  std::vector<float> a(100003), b(100003), c(100003);
  GaussianNoise(5, 0, a.data(), a.size());
  GaussianNoise(5, 0, b.data(), b.size());
  GaussianNoise(5, 1, c.data(), c.size());
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  double mean = 0, var = 0;
  for (float v : a) mean += v;
  mean /= a.size();
  for (float v : a) var += (v - mean) * (v - mean);
  var /= a.size();
  EXPECT_NEAR(mean, 0.0, 0.02);
  EXPECT_NEAR(var, 1.0, 0.02);
  // A prefix of a longer draw equals a shorter draw (layout independence).
  std::vector<float> p(7);
  GaussianNoise(5, 0, p.data(), p.size());
  for (size_t i = 0; i < p.size(); ++i) EXPECT_EQ(p[i], a[i]);
}

TEST(Sampler, FlowScheduleAndStep) {
  SamplerConfig cfg;
  cfg.shift = 3.f;
  auto s = Sampler::Create(cfg, 4);
  ASSERT_TRUE(s.ok());
  // t = 1, .75, .5, .25 shifted by 3: 3t / (1 + 2t)
  const float expect[4] = {1.f, 0.9f, 0.75f, 0.5f};
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(s->model_timestep(i), expect[i] * 1000.f, 1e-3);
  // x = noise, v = noise - x0 exactly: Euler reaches x0 at the end.
  const float x0 = 0.25f, noise = -1.5f;
  float x = noise;
  for (int i = 0; i < 4; ++i) {
    const float v = noise - x0;
    s->Step(i, &x, &v, 1);
  }
  EXPECT_NEAR(x, x0, 1e-6);
}

TEST(Sampler, DdimRecoversCleanSampleWithExactEpsilon) {
  SamplerConfig cfg;
  cfg.kind = fb::Sampler::DDIM;
  cfg.prediction = fb::Prediction::Epsilon;
  auto s = Sampler::Create(cfg, 10);
  ASSERT_TRUE(s.ok());
  EXPECT_FLOAT_EQ(s->model_timestep(0), 900.f);
  EXPECT_FLOAT_EQ(s->model_timestep(9), 0.f);
  // With the true epsilon at every step, DDIM (eta = 0) lands on x0.
  const double x0 = 0.7, eps = -0.4;
  double ab = 1.0;
  for (int i = 0; i < 1000; ++i) {
    ab *= 1.0 - (1e-4 + (0.02 - 1e-4) * i / 999.0);
    if (i == 900) break;
  }
  float x = static_cast<float>(std::sqrt(ab) * x0 + std::sqrt(1 - ab) * eps);
  for (int i = 0; i < 10; ++i) {
    const float e = static_cast<float>(eps);
    s->Step(i, &x, &e, 1);
  }
  EXPECT_NEAR(x, x0, 1e-4);
}

TEST(Sampler, RejectsBadSettings) {
  SamplerConfig cfg;
  EXPECT_FALSE(Sampler::Create(cfg, 0).ok());
  cfg.shift = -1.f;
  EXPECT_FALSE(Sampler::Create(cfg, 10).ok());
  SamplerConfig ddim;
  ddim.kind = fb::Sampler::DDIM;
  ddim.train_steps = 5;
  EXPECT_FALSE(Sampler::Create(ddim, 10).ok());
}

}  // namespace
}  // namespace edge
