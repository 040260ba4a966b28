// Guidance reuse: the schedule, bit-identity when every step is computed,
// the estimate against an independent step loop, composition with the step
// cache, determinism across thread counts and refusals.
#include "runtime/guidance_reuse.h"

#include <cmath>
#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/pipeline.h"
#include "runtime/noise.h"
#include "runtime/sampler.h"
#include "runtime/writer/dit_builder.h"
#include "runtime/writer/model_writer.h"

namespace edge {
namespace {

struct Fixture {
  std::vector<uint8_t> bytes;
  std::unique_ptr<Model> model;
  std::unique_ptr<Session> session;
  std::unique_ptr<Pipeline> pipeline;
};

// stored_interval > 0: the file carries that guidance reuse default.
void Make(Fixture* f, int batch, int threads = 1, int stored_interval = 0) {
  testing::DitConfig cfg;
  cfg.batch = batch;
  cfg.depth = 2;
  cfg.hidden = 32;
  cfg.heads = 2;
  cfg.image_size = 8;
  cfg.weight_std = 0.2f;  // a condition that matters: g is far from zero
  ModelWriter w;
  testing::BuildDit(cfg, &w);
  if (stored_interval > 0) {
    PipelineInfo pi = *w.pipeline();
    pi.guidance_reuse_interval = stored_interval;
    pi.guidance_reuse_warmup = 3;
    pi.guidance_reuse_order = 0;
    w.SetPipeline(pi);
  }
  ASSERT_TRUE(w.Finish(&f->bytes).ok());
  auto m = Model::LoadBuffer(f->bytes.data(), f->bytes.size(), true);
  ASSERT_TRUE(m.ok()) << m.status().message();
  f->model = std::move(m.value());
  SessionOptions so;
  so.num_threads = threads;
  auto s = Session::Create(f->model.get(), so);
  ASSERT_TRUE(s.ok()) << s.status().message();
  f->session = std::move(s.value());
  auto p = Pipeline::Create(f->session.get());
  ASSERT_TRUE(p.ok()) << p.status().message();
  f->pipeline = std::move(p.value());
}

GenerateOptions Guided(int steps, int samples) {
  GenerateOptions g;
  g.steps = steps;
  g.num_samples = samples;
  g.guidance = 3.f;
  g.seed = 7;
  for (int k = 0; k < samples; ++k) g.classes.push_back(k % 10);
  return g;
}

TEST(GuidanceReuse, ScheduleKeepsWarmupEveryKthAndLastStep) {
  GuidanceReuseOptions o;
  o.interval = 3;
  o.warmup_steps = 2;
  std::vector<int> computed;
  for (int i = 0; i < 10; ++i) {
    if (GuidanceComputeStep(o, i, 10)) computed.push_back(i);
  }
  EXPECT_EQ(computed, (std::vector<int>{0, 1, 2, 5, 8, 9}));
  o.interval = 1;  // off
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(GuidanceComputeStep(o, i, 10));
  o.interval = 0;
  EXPECT_FALSE(GuidanceReuseEnabled(o));
}

TEST(GuidanceReuse, RefusesBadOptions) {
  Fixture f;
  Make(&f, 1);
  GenerateOptions g = Guided(4, 1);
  std::vector<float> out(f.pipeline->latent_elements());
  g.guidance_reuse.interval = 2;
  g.guidance_reuse.order = 2;
  Status st = f.pipeline->Generate(g, out.data());
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(st.message()).find("order"), std::string::npos) << st.message();
  g.guidance_reuse.order = 1;
  g.guidance_reuse.interval = -2;  // -1 is the model's default
  EXPECT_EQ(f.pipeline->Generate(g, out.data()).code(), StatusCode::kInvalidArgument);
}

TEST(GuidanceReuse, ModelDefaultAppliesOnlyWhenAskedFor) {
  Fixture f;
  Make(&f, 1, 1, /*stored_interval=*/2);
  GenerateOptions g = Guided(10, 1);
  std::vector<float> dflt(f.pipeline->latent_elements()), expl(dflt.size()), off(dflt.size());
  g.guidance_reuse.interval = -1;  // the stored setting: every 2nd after 3, order 0
  ASSERT_TRUE(f.pipeline->Generate(g, dflt.data()).ok());
  EXPECT_EQ(f.pipeline->stats().guidance_reuse.interval, 2);
  EXPECT_EQ(f.pipeline->stats().guidance_reuse.warmup_steps, 3);
  EXPECT_EQ(f.pipeline->stats().guidance_reuse.order, 0);
  EXPECT_EQ(f.pipeline->stats().uncond_reused, 3);  // 4, 6, 8 (3, 5, 7 run, 9 last)
  g.guidance_reuse = GuidanceReuseOptions{2, 3, 0};
  ASSERT_TRUE(f.pipeline->Generate(g, expl.data()).ok());
  EXPECT_EQ(dflt, expl);
  g.guidance_reuse = GuidanceReuseOptions();  // C++ default: off, whatever the file says
  ASSERT_TRUE(f.pipeline->Generate(g, off.data()).ok());
  EXPECT_EQ(f.pipeline->stats().uncond_reused, 0);
  EXPECT_NE(dflt, off);
}

TEST(GuidanceReuse, OffIsBitIdentical) {
  Fixture f;
  Make(&f, 1);
  GenerateOptions g = Guided(8, 2);
  std::vector<float> a(2 * f.pipeline->latent_elements()), b(a.size());
  ASSERT_TRUE(f.pipeline->Generate(g, a.data()).ok());
  EXPECT_EQ(f.pipeline->stats().uncond_reused, 0);
  g.guidance_reuse.interval = 1;
  ASSERT_TRUE(f.pipeline->Generate(g, b.data()).ok());
  EXPECT_EQ(a, b);
  EXPECT_EQ(f.pipeline->stats().graph_runs, 2 * 2 * 8);
}

TEST(GuidanceReuse, PairedModelRunsApartOnlyWhereThatSavesCalls) {
  // Batch 2 pairs cond/uncond rows in one call. With reuse, two samples run
  // as one chunk of cond and uncond calls, the same rows as a batch-1 model
  // (rows are independent: same bits); one sample would leave half of every
  // call empty, so it stays paired, without reuse.
  Fixture paired, single;
  Make(&paired, 2);
  Make(&single, 1);
  GenerateOptions g = Guided(6, 2);
  g.guidance_reuse.interval = 2;  // uncond at 0, 1, 2, 4, 5: step 3 reused
  std::vector<float> a(2 * paired.pipeline->latent_elements()), b(a.size());
  ASSERT_TRUE(paired.pipeline->Generate(g, a.data()).ok());
  EXPECT_EQ(paired.pipeline->stats().graph_runs, 6 + 5);  // paired: 2 x 6
  EXPECT_EQ(paired.pipeline->stats().uncond_reused, 1);
  ASSERT_TRUE(single.pipeline->Generate(g, b.data()).ok());
  EXPECT_EQ(a, b);

  GenerateOptions one = Guided(6, 1);
  one.guidance_reuse.interval = 2;
  std::vector<float> c(paired.pipeline->latent_elements()), d(c.size());
  ASSERT_TRUE(paired.pipeline->Generate(one, c.data()).ok());
  EXPECT_EQ(paired.pipeline->stats().graph_runs, 6);
  EXPECT_EQ(paired.pipeline->stats().uncond_reused, 0);
  EXPECT_EQ(paired.pipeline->stats().guidance_reuse.interval, 0);  // not applied
  one.guidance_reuse.interval = 0;
  ASSERT_TRUE(paired.pipeline->Generate(one, d.data()).ok());
  EXPECT_EQ(c, d);
}

// The denoising loop written out against the Session, with the estimate of
// guidance_reuse.h computed here in double precision.
std::vector<float> OracleLoop(Fixture* f, const GenerateOptions& g, int order) {
  Session* s = f->session.get();
  const fb::Pipeline* meta = s->model().pipeline();
  const size_t L = f->pipeline->latent_elements();
  const int steps = g.steps;
  auto sampler = Sampler::Create(SamplerConfigFromModel(meta), steps);
  EXPECT_TRUE(sampler.ok());
  std::vector<float> x(L);
  GaussianNoise(g.seed, 0, x.data(), L);
  std::vector<double> g1(L), g0(L);
  int s1 = -1, s0 = -1;
  std::vector<float> cond(L), uncond(L), pred(L);
  auto run = [&](int64_t cls, float t, std::vector<float>* out) {
    std::memcpy(s->data(meta->latent_input()), x.data(), L * sizeof(float));
    static_cast<float*>(s->data(meta->timestep_input()))[0] = t;
    static_cast<int64_t*>(s->data(meta->condition_input()))[0] = cls;
    EXPECT_TRUE(s->Invoke().ok());
    std::memcpy(out->data(), s->data(meta->output()), L * sizeof(float));
  };
  for (int i = 0; i < steps; ++i) {
    const float t = sampler->model_timestep(i);
    run(g.classes[0], t, &cond);
    if (GuidanceComputeStep(g.guidance_reuse, i, steps)) {
      run(meta->null_condition(), t, &uncond);
      g0 = g1;
      for (size_t j = 0; j < L; ++j) g1[j] = double(cond[j]) - uncond[j];
      s0 = s1;
      s1 = i;
    } else {
      const double a = (order == 1 && s0 >= 0) ? double(i - s1) / (s1 - s0) : 0.0;
      for (size_t j = 0; j < L; ++j) uncond[j] = float(cond[j] - (g1[j] + (g1[j] - g0[j]) * a));
    }
    for (size_t j = 0; j < L; ++j) pred[j] = uncond[j] + g.guidance * (cond[j] - uncond[j]);
    sampler->Step(i, x.data(), pred.data(), L);
  }
  return x;
}

TEST(GuidanceReuse, EstimateMatchesAnIndependentLoop) {
  for (int order : {0, 1}) {
    Fixture f;
    Make(&f, 1);
    GenerateOptions g = Guided(12, 1);
    g.guidance_reuse.interval = 3;
    g.guidance_reuse.order = order;
    std::vector<float> got(f.pipeline->latent_elements());
    ASSERT_TRUE(f.pipeline->Generate(g, got.data()).ok());
    // steps 0,1 warm-up, 2,5,8 every third, 11 last: 6 run, 6 estimated
    EXPECT_EQ(f.pipeline->stats().uncond_runs, 6);
    EXPECT_EQ(f.pipeline->stats().uncond_reused, 6);
    EXPECT_EQ(std::string(f.pipeline->stats().guidance_steps.begin(), f.pipeline->stats().guidance_steps.end()),
              "cccrrcrrcrrc");
    const std::vector<float> want = OracleLoop(&f, g, order);
    double num = 0, den = 0;
    for (size_t j = 0; j < want.size(); ++j) {
      num += (double(got[j]) - want[j]) * (double(got[j]) - want[j]);
      den += double(want[j]) * want[j];
    }
    EXPECT_LT(std::sqrt(num / den), 1e-5) << "order " << order;

    // Reusing g is not the same as dropping guidance: the estimate must
    // matter (a plant that leaves uncond stale or zero fails here).
    GenerateOptions plain = Guided(12, 1);
    std::vector<float> full(got.size());
    ASSERT_TRUE(f.pipeline->Generate(plain, full.data()).ok());
    EXPECT_NE(full, got);
  }
}

TEST(GuidanceReuse, ComposesWithTheStepCacheAndIsThreadCountInvariant) {
  std::vector<float> outs[2];
  for (int threads : {1, 2}) {
    Fixture f;
    Make(&f, 2, threads);
    GenerateOptions g = Guided(10, 4);
    g.guidance_reuse.interval = 2;
    g.cache.policy = CachePolicy::kTdc;
    g.cache.threshold = 1e30f;
    outs[threads - 1].resize(4 * f.pipeline->latent_elements());
    ASSERT_TRUE(f.pipeline->Generate(g, outs[threads - 1].data()).ok());
    const GenerateStats& st = f.pipeline->stats();
    // two chunks of two samples; uncond at 0,1,2,4,6,8,9
    EXPECT_EQ(st.uncond_runs, 2 * 7);
    EXPECT_EQ(st.uncond_reused, 2 * 3);
    EXPECT_EQ(st.graph_runs, 2 * (10 + 7));
    EXPECT_GT(st.blocks_skipped, 0);
    for (float v : outs[threads - 1]) ASSERT_TRUE(std::isfinite(v));
  }
  EXPECT_EQ(outs[0], outs[1]);
}

}  // namespace
}  // namespace edge
