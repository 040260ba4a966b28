#include "runtime/delta_cache.h"

#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/pipeline.h"
#include "tests/support/dit_builder.h"

namespace edge {
namespace {

struct Fixture {
  std::vector<uint8_t> bytes;
  std::unique_ptr<Model> model;
  std::unique_ptr<Session> session;
  std::unique_ptr<Pipeline> pipeline;
};

void Make(Fixture* f, int depth) {
  testing::DitConfig cfg;
  cfg.depth = depth;
  cfg.hidden = 32;
  cfg.heads = 2;
  cfg.image_size = 8;
  ModelWriter w;
  testing::BuildDit(cfg, &w);
  ASSERT_TRUE(w.Finish(&f->bytes).ok());
  auto m = Model::LoadBuffer(f->bytes.data(), f->bytes.size(), true);
  ASSERT_TRUE(m.ok()) << m.status().message();
  f->model = std::move(m.value());
  auto s = Session::Create(f->model.get(), SessionOptions());
  ASSERT_TRUE(s.ok()) << s.status().message();
  f->session = std::move(s.value());
  auto p = Pipeline::Create(f->session.get());
  ASSERT_TRUE(p.ok()) << p.status().message();
  f->pipeline = std::move(p.value());
}

TEST(DeltaCache, OffComputesEveryBlockAndMatchesUncached) {
  Fixture f;
  Make(&f, 3);
  GenerateOptions g;
  g.steps = 6;
  g.num_samples = 2;
  g.guidance = 1.f;
  std::vector<float> a(2 * f.pipeline->latent_elements()), b(a.size());
  ASSERT_TRUE(f.pipeline->Generate(g, a.data()).ok());
  EXPECT_EQ(f.pipeline->stats().blocks_skipped, 0);
  EXPECT_EQ(f.pipeline->stats().blocks_computed, 3 * 6);
  g.cache.threshold = 0.f;
  g.cache.max_skips = 5;
  ASSERT_TRUE(f.pipeline->Generate(g, b.data()).ok());
  EXPECT_EQ(a, b);
}

TEST(DeltaCache, SkipScheduleFollowsWarmupMaxSkipsAndLastStep) {
  Fixture f;
  Make(&f, 2);
  GenerateOptions g;
  g.steps = 10;
  g.num_samples = 2;
  g.guidance = 1.f;
  g.cache.threshold = 1e30f;  // always stable: only the structural rules limit skipping
  g.cache.max_skips = 2;
  g.cache.warmup_steps = 2;
  std::vector<float> out(2 * f.pipeline->latent_elements());
  ASSERT_TRUE(f.pipeline->Generate(g, out.data()).ok());
  // Per block: compute 0,1; skip 2,3; compute 4; skip 5,6; compute 7; skip 8; compute 9 (last).
  EXPECT_EQ(f.pipeline->stats().blocks_skipped, 2 * 5);
  EXPECT_EQ(f.pipeline->stats().blocks_computed, 2 * 5);
  for (float v : out) ASSERT_TRUE(std::isfinite(v));
}

TEST(DeltaCache, GuidanceBranchesRunningSeparatelyKeepTheirOwnState) {
  // Batch 1 with guidance: two graph calls per step, one state each.
  testing::DitConfig cfg;
  cfg.batch = 1;
  cfg.depth = 2;
  cfg.hidden = 32;
  cfg.heads = 2;
  cfg.image_size = 8;
  ModelWriter w;
  testing::BuildDit(cfg, &w);
  std::vector<uint8_t> bytes;
  ASSERT_TRUE(w.Finish(&bytes).ok());
  auto m = Model::LoadBuffer(bytes.data(), bytes.size(), true);
  ASSERT_TRUE(m.ok());
  auto s = Session::Create(m->get(), SessionOptions());
  ASSERT_TRUE(s.ok());
  auto p = Pipeline::Create(s->get());
  ASSERT_TRUE(p.ok());
  GenerateOptions g;
  g.steps = 10;
  g.num_samples = 1;
  g.guidance = 3.f;
  g.cache.threshold = 1e30f;
  std::vector<float> out((*p)->latent_elements());
  ASSERT_TRUE((*p)->Generate(g, out.data()).ok());
  EXPECT_EQ((*p)->stats().graph_runs, 20);
  EXPECT_EQ((*p)->stats().blocks_skipped, 2 * 2 * 5);
}

TEST(DeltaCache, SmallThresholdStaysCloseToUncached) {
  Fixture f;
  Make(&f, 3);
  GenerateOptions g;
  g.steps = 20;
  g.num_samples = 2;
  g.guidance = 1.f;
  std::vector<float> ref(2 * f.pipeline->latent_elements()), got(ref.size());
  ASSERT_TRUE(f.pipeline->Generate(g, ref.data()).ok());
  g.cache.threshold = 0.2f;
  ASSERT_TRUE(f.pipeline->Generate(g, got.data()).ok());
  double num = 0, den = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    num += (ref[i] - got[i]) * (ref[i] - got[i]);
    den += ref[i] * ref[i];
  }
  const double rel = std::sqrt(num / den);
  std::printf("delta cache threshold 0.2: %lld of %lld block runs skipped, relative L2 error %.2e\n",
              static_cast<long long>(f.pipeline->stats().blocks_skipped),
              static_cast<long long>(f.pipeline->stats().blocks_skipped + f.pipeline->stats().blocks_computed), rel);
  EXPECT_GT(f.pipeline->stats().blocks_skipped, 0);
  EXPECT_LT(rel, 0.05);
}

TEST(DeltaCache, RejectsBadOptions) {
  Fixture f;
  Make(&f, 1);
  CacheOptions o;
  o.threshold = -1.f;
  EXPECT_FALSE(DeltaCache::Create(f.session.get(), o, 1).ok());
  o.threshold = NAN;
  EXPECT_FALSE(DeltaCache::Create(f.session.get(), o, 1).ok());
}

}  // namespace
}  // namespace edge
