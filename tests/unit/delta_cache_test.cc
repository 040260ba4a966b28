#include "runtime/delta_cache.h"

#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/pipeline.h"
#include "runtime/writer/model_writer.h"
#include "runtime/writer/dit_builder.h"

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
  EXPECT_FALSE(DeltaCache::Create(f.session.get(), o, 1, 4).ok());
  o.threshold = NAN;
  EXPECT_FALSE(DeltaCache::Create(f.session.get(), o, 1, 4).ok());
}


const CachePolicy kAllPolicies[] = {CachePolicy::kTdc,      CachePolicy::kFirstBlock, CachePolicy::kTeaCache,
                                    CachePolicy::kMagCache, CachePolicy::kStatic,     CachePolicy::kTaylor};

// Options that turn policy `p` on with `t` (static: interval max(2, t)).
CacheOptions On(CachePolicy p, float t) {
  CacheOptions o;
  o.policy = p;
  if (p == CachePolicy::kStatic) o.interval = t > 100.f ? 100 : std::max(2, static_cast<int>(t));
  else o.threshold = t;
  return o;
}

double RelL2(const std::vector<float>& ref, const std::vector<float>& got) {
  double num = 0, den = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    num += (double(ref[i]) - got[i]) * (double(ref[i]) - got[i]);
    den += double(ref[i]) * ref[i];
  }
  return std::sqrt(num / den);
}

TEST(CachePolicies, ThresholdZeroIsBitIdenticalForEveryPolicy) {
  Fixture f;
  Make(&f, 3);
  GenerateOptions g;
  g.steps = 8;
  g.num_samples = 2;
  g.guidance = 3.f;
  std::vector<float> ref(2 * f.pipeline->latent_elements()), got(ref.size());
  ASSERT_TRUE(f.pipeline->Generate(g, ref.data()).ok());
  for (CachePolicy p : kAllPolicies) {
    g.cache = CacheOptions();
    g.cache.policy = p;
    g.cache.threshold = 0.f;
    g.cache.interval = 1;  // static: every step
    g.cache.max_skips = 5;
    ASSERT_TRUE(f.pipeline->Generate(g, got.data()).ok()) << CachePolicyName(p);
    EXPECT_EQ(ref, got) << CachePolicyName(p);
    EXPECT_EQ(f.pipeline->stats().blocks_skipped, 0) << CachePolicyName(p);
  }
  // Switched on, every policy does skip on this fixture, so the equality above is not vacuous.
  for (CachePolicy p : kAllPolicies) {
    g.cache = On(p, 1e30f);
    ASSERT_TRUE(f.pipeline->Generate(g, got.data()).ok()) << CachePolicyName(p);
    EXPECT_GT(f.pipeline->stats().blocks_skipped, 0) << CachePolicyName(p);
    EXPECT_NE(ref, got) << CachePolicyName(p);
  }
}

TEST(CachePolicies, EveryPolicyRunsOnEveryFixture) {
  for (int depth : {1, 2, 4}) {
    for (int guided = 0; guided < 2; ++guided) {
      Fixture f;
      Make(&f, depth);
      GenerateOptions g;
      g.steps = 12;
      g.num_samples = 3;
      g.guidance = guided ? 3.f : 1.f;
      std::vector<float> ref(3 * f.pipeline->latent_elements()), got(ref.size());
      ASSERT_TRUE(f.pipeline->Generate(g, ref.data()).ok());
      for (CachePolicy p : kAllPolicies) {
        g.cache = On(p, 0.3f);
        ASSERT_TRUE(f.pipeline->Generate(g, got.data()).ok()) << CachePolicyName(p);
        const GenerateStats& st = f.pipeline->stats();
        for (float v : got) ASSERT_TRUE(std::isfinite(v)) << CachePolicyName(p);
        EXPECT_LT(RelL2(ref, got), 0.5) << CachePolicyName(p) << " depth " << depth;
        // Per-step records add up to the totals.
        int64_t sk = 0, co = 0;
        for (size_t i = 0; i < st.cache.step_skipped.size(); ++i) {
          sk += st.cache.step_skipped[i];
          co += st.cache.step_computed[i];
        }
        EXPECT_EQ(sk, st.blocks_skipped);
        EXPECT_EQ(co, st.blocks_computed);
        EXPECT_EQ(st.cache.step_skipped.size(), 12u);
      }
    }
  }
}

TEST(CachePolicies, GlobalPoliciesHonourWarmupCapAndLastStep) {
  Fixture f;
  Make(&f, 3);
  GenerateOptions g;
  g.steps = 10;
  g.num_samples = 2;
  g.guidance = 1.f;
  std::vector<float> out(2 * f.pipeline->latent_elements());
  for (CachePolicy p : {CachePolicy::kFirstBlock, CachePolicy::kTeaCache, CachePolicy::kMagCache}) {
    g.cache = On(p, 1e30f);
    g.cache.max_skips = 2;
    g.cache.warmup_steps = 2;
    ASSERT_TRUE(f.pipeline->Generate(g, out.data()).ok());
    const CacheStats& cs = f.pipeline->stats().cache;
    // Compute 0,1 (warm-up); skip 2,3; compute 4; skip 5,6; compute 7; skip 8; compute 9 (last).
    const char* want = "ccsscsscsc";
    for (int s = 0; s < 10; ++s) {
      const char expect_rest = want[s];
      // fb runs block 0 on every step.
      EXPECT_EQ(cs.step_blocks[s][0], p == CachePolicy::kFirstBlock ? 'c' : expect_rest)
          << CachePolicyName(p) << " step " << s;
      EXPECT_EQ(cs.step_blocks[s][2], expect_rest) << CachePolicyName(p) << " step " << s;
    }
    g.cache.max_skips = 0;
    ASSERT_TRUE(f.pipeline->Generate(g, out.data()).ok());
    EXPECT_EQ(f.pipeline->stats().blocks_skipped, 0) << CachePolicyName(p);
  }
  // static: interval 3 after 2 warm-up steps: compute 0,1,2,5,8,9.
  g.cache = On(CachePolicy::kStatic, 3);
  ASSERT_TRUE(f.pipeline->Generate(g, out.data()).ok());
  const char* want = "cccsscsscc";
  for (int s = 0; s < 10; ++s) EXPECT_EQ(f.pipeline->stats().cache.step_blocks[s][1], want[s]) << "step " << s;
  // explicit list
  g.cache = CacheOptions();
  g.cache.policy = CachePolicy::kStatic;
  g.cache.compute_steps = {0, 1, 4};
  ASSERT_TRUE(f.pipeline->Generate(g, out.data()).ok());
  want = "ccsscsssss";
  for (int s = 0; s < 9; ++s) EXPECT_EQ(f.pipeline->stats().cache.step_blocks[s][0], want[s]) << "step " << s;
  EXPECT_EQ(f.pipeline->stats().cache.step_blocks[9][0], 'c');  // last step always computed
}

TEST(CachePolicies, AccumulatorDecides) {
  // Some threshold must skip some but not all of what the structural rules allow.
  Fixture f;
  Make(&f, 3);
  GenerateOptions g;
  g.steps = 20;
  g.num_samples = 2;
  g.guidance = 3.f;
  std::vector<float> out(2 * f.pipeline->latent_elements());
  for (CachePolicy p : {CachePolicy::kTdc, CachePolicy::kFirstBlock, CachePolicy::kTeaCache,
                        CachePolicy::kMagCache, CachePolicy::kTaylor}) {
    g.cache = On(p, 1e30f);
    ASSERT_TRUE(f.pipeline->Generate(g, out.data()).ok());
    const int64_t most = f.pipeline->stats().blocks_skipped;
    bool decided = false;
    int64_t prev = -1;
    for (double t = 1e-4; t < 100 && !decided; t *= 1.5) {
      g.cache = On(p, static_cast<float>(t));
      ASSERT_TRUE(f.pipeline->Generate(g, out.data()).ok());
      const int64_t k = f.pipeline->stats().blocks_skipped;
      decided = k > 0 && k < most;
      prev = k;
    }
    EXPECT_TRUE(decided) << CachePolicyName(p) << ": most " << most << " last " << prev;
  }
}

TEST(CachePolicies, DroppingTheBlockIsClearlyWorseThanReusingItsResidual) {
  Fixture f;
  Make(&f, 3);
  GenerateOptions g;
  g.steps = 20;
  g.num_samples = 2;
  g.guidance = 3.f;
  std::vector<float> ref(2 * f.pipeline->latent_elements()), reuse(ref.size()), drop(ref.size());
  ASSERT_TRUE(f.pipeline->Generate(g, ref.data()).ok());
  g.cache = On(CachePolicy::kTdc, 1e30f);
  ASSERT_TRUE(f.pipeline->Generate(g, reuse.data()).ok());
  const int64_t k = f.pipeline->stats().blocks_skipped;
  g.cache.drop_instead_of_reuse = true;
  ASSERT_TRUE(f.pipeline->Generate(g, drop.data()).ok());
  EXPECT_EQ(f.pipeline->stats().blocks_skipped, k);  // the same decisions
  const double e_reuse = RelL2(ref, reuse), e_drop = RelL2(ref, drop);
  std::printf("max skipping: reuse rel. L2 %.3e, drop %.3e\n", e_reuse, e_drop);
  EXPECT_GT(e_drop, 3.0 * e_reuse);
}

// One region = the whole graph: y = x + W2 gelu(W1 x), graph input x and
// output y stay readable, so a skipped step can be checked bit for bit.
struct TinyBlock {
  std::vector<uint8_t> bytes;
  std::unique_ptr<Model> model;
  std::unique_ptr<Session> session;
  int x = -1, y = -1;
};

void MakeTiny(TinyBlock* t) {
  ModelWriter w;
  const int D = 24;
  std::vector<float> w1(D * D), w2(D * D);
  for (int i = 0; i < D * D; ++i) {
    w1[i] = 0.05f * std::sin(0.37f * i);
    w2[i] = 0.05f * std::cos(0.91f * i);
  }
  t->x = w.AddActivation("x", {2, 3, D});
  const int a = w.AddConstantF32("w1", {D, D}, w1);
  const int b = w.AddConstantF32("w2", {D, D}, w2);
  const int h = w.AddActivation("h", {2, 3, D});
  const int hg = w.AddActivation("hg", {2, 3, D});
  const int r = w.AddActivation("r", {2, 3, D});
  t->y = w.AddActivation("y", {2, 3, D});
  OpAttrs gelu;
  gelu.activation = fb::Activation::Gelu;
  w.AddOp(fb::OpType::Linear, {t->x, a, -1}, {h});
  w.AddOp(fb::OpType::Gelu, {h}, {hg});
  w.AddOp(fb::OpType::Linear, {hg, b, -1}, {r});
  w.AddOp(fb::OpType::Add, {t->x, r}, {t->y});
  w.SetInputs({t->x});
  w.SetOutputs({t->y});
  w.AddCacheRegion("blk", 0, 3, t->x, t->y);
  ASSERT_TRUE(w.Finish(&t->bytes).ok());
  auto m = Model::LoadBuffer(t->bytes.data(), t->bytes.size(), true);
  ASSERT_TRUE(m.ok()) << m.status().message();
  t->model = std::move(m.value());
  auto s = Session::Create(t->model.get(), SessionOptions());
  ASSERT_TRUE(s.ok()) << s.status().message();
  t->session = std::move(s.value());
}

TEST(CachePolicies, SkippedStepIsInputPlusCachedDeltaBitForBit) {
  TinyBlock t;
  MakeTiny(&t);
  const size_t n = 2 * 3 * 24;
  for (CachePolicy p : kAllPolicies) {
    // fb always runs block 0, the only block here; its other blocks take the
    // same reuse path as the global policies checked here.
    if (p == CachePolicy::kFirstBlock) continue;
    CacheOptions o = On(p, 1e30f);
    o.warmup_steps = 2;
    if (p == CachePolicy::kStatic) o.compute_steps = {0, 1};
    auto c = DeltaCache::Create(t.session.get(), o, 1, 6);
    ASSERT_TRUE(c.ok()) << c.status().message();
    DeltaCache& cache = *c.value();
    float* x = static_cast<float*>(t.session->data(t.x));
    const float* y = static_cast<const float*>(t.session->data(t.y));
    std::vector<std::vector<float>> deltas;
    for (int step = 0; step < 3; ++step) {
      for (size_t j = 0; j < n; ++j) x[j] = std::sin(0.1f * j + 0.7f * step);
      ASSERT_TRUE(cache.Run(0, step, 6).ok());
      std::vector<float> d(n);
      for (size_t j = 0; j < n; ++j) d[j] = y[j] - x[j];
      if (step < 2) {
        EXPECT_EQ(cache.stats().step_blocks[step][0], 'c') << CachePolicyName(p);
        deltas.push_back(d);
        continue;
      }
      ASSERT_NE(cache.stats().step_blocks[step][0], 'c') << CachePolicyName(p);
      for (size_t j = 0; j < n; ++j) {
        float want = x[j] + deltas[1][j];
        if (p == CachePolicy::kTaylor) want = x[j] + (deltas[1][j] + 1.f * (deltas[1][j] - deltas[0][j]));
        ASSERT_EQ(y[j], want) << CachePolicyName(p) << " element " << j;
      }
    }
  }
}

TEST(CachePolicies, ResolvesCalibratedThresholdsAndRejectsBadOnes) {
  testing::DitConfig cfg;
  cfg.depth = 2;
  cfg.hidden = 32;
  cfg.heads = 2;
  cfg.image_size = 8;
  ModelWriter w;
  testing::BuildDit(cfg, &w);
  CacheCalibrationInfo ci;
  ci.steps = 4;
  ci.tea_poly = {0.5f, 1.f, 0.f};
  ci.mag_ratios = {1.f, 0.9f, 0.95f, 1.f};
  CachePolicyCalibrationInfo e;
  e.policy = static_cast<int>(CachePolicy::kTdc);
  e.target_psnr = 35.f;
  e.threshold = 0.2f;
  e.skip_fraction = 0.3f;
  e.max_skips = 4;
  e.block_thresholds = {0.1f, 0.3f};
  ci.policies.push_back(e);
  e.policy = static_cast<int>(CachePolicy::kMagCache);
  e.threshold = 0.05f;
  e.skip_fraction = 0.4f;
  e.block_thresholds.clear();
  ci.policies.push_back(e);
  e.target_psnr = 30.f;
  e.threshold = 0.5f;
  ci.policies.push_back(e);
  w.SetCacheCalibration(ci);
  std::vector<uint8_t> bytes;
  ASSERT_TRUE(w.Finish(&bytes).ok());
  auto m = Model::LoadBuffer(bytes.data(), bytes.size(), true);
  ASSERT_TRUE(m.ok()) << m.status().message();
  CacheRequest q;
  q.policy = CachePolicy::kTdc;
  q.scale = 2.f;
  CacheOptions o;
  bool calibrated = false;
  ASSERT_TRUE(ResolveCacheOptions(*m.value(), q, &o, &calibrated).ok());
  EXPECT_TRUE(calibrated);
  EXPECT_FLOAT_EQ(o.threshold, 0.4f);
  EXPECT_EQ(o.block_thresholds, (std::vector<float>{0.2f, 0.6f}));
  EXPECT_EQ(o.max_skips, 4);
  EXPECT_EQ(o.tea_poly.size(), 3u);
  EXPECT_EQ(o.mag_ratios.size(), 4u);
  q.threshold = 0.07f;  // override
  ASSERT_TRUE(ResolveCacheOptions(*m.value(), q, &o, &calibrated).ok());
  EXPECT_FALSE(calibrated);
  EXPECT_FLOAT_EQ(o.threshold, 0.07f);
  q = CacheRequest();
  q.automatic = true;
  ASSERT_TRUE(ResolveCacheOptions(*m.value(), q, &o, nullptr).ok());
  EXPECT_EQ(o.policy, CachePolicy::kMagCache);  // most skipping at the first target
  EXPECT_FLOAT_EQ(o.threshold, 0.05f);
  q.target_psnr = 30.f;
  ASSERT_TRUE(ResolveCacheOptions(*m.value(), q, &o, nullptr).ok());
  EXPECT_FLOAT_EQ(o.threshold, 0.5f);
  q.target_psnr = 20.f;
  EXPECT_FALSE(ResolveCacheOptions(*m.value(), q, &o, nullptr).ok());
  // Uncalibrated policy: documented fallback.
  q = CacheRequest();
  q.policy = CachePolicy::kFirstBlock;
  ASSERT_TRUE(ResolveCacheOptions(*m.value(), q, &o, &calibrated).ok());
  EXPECT_FALSE(calibrated);
  EXPECT_FLOAT_EQ(o.threshold, CacheFallbackThreshold(CachePolicy::kFirstBlock));

  // The loader rejects hostile calibration values.
  auto bad = [&](void (*edit)(CacheCalibrationInfo*)) {
    ModelWriter wb;
    testing::BuildDit(cfg, &wb);
    CacheCalibrationInfo c = ci;
    edit(&c);
    wb.SetCacheCalibration(c);
    std::vector<uint8_t> b;
    EXPECT_TRUE(wb.Finish(&b).ok());
    return Model::LoadBuffer(b.data(), b.size(), true).ok();
  };
  EXPECT_FALSE(bad([](CacheCalibrationInfo* c) { c->policies[0].threshold = -1.f; }));
  EXPECT_FALSE(bad([](CacheCalibrationInfo* c) { c->policies[0].threshold = NAN; }));
  EXPECT_FALSE(bad([](CacheCalibrationInfo* c) { c->policies[0].policy = 9; }));
  EXPECT_FALSE(bad([](CacheCalibrationInfo* c) { c->policies[0].block_thresholds = {0.1f}; }));
  EXPECT_FALSE(bad([](CacheCalibrationInfo* c) { c->policies[0].skip_fraction = 2.f; }));
  EXPECT_FALSE(bad([](CacheCalibrationInfo* c) { c->policies[0].max_skips = -7; }));
  EXPECT_FALSE(bad([](CacheCalibrationInfo* c) { c->tea_poly = {INFINITY}; }));
  EXPECT_FALSE(bad([](CacheCalibrationInfo* c) { c->mag_ratios = {0.f, 1.f, 1.f, 1.f}; }));
  EXPECT_FALSE(bad([](CacheCalibrationInfo* c) { c->steps = -1; }));
  EXPECT_TRUE(bad([](CacheCalibrationInfo* c) {}));  // the editor itself keeps good files loading
}

TEST(CachePolicies, Int8ResidualsUsePlannedMemoryAndStayClose) {
  Fixture f;
  Make(&f, 3);
  GenerateOptions g;
  g.steps = 12;
  g.num_samples = 2;
  g.guidance = 3.f;
  std::vector<float> ref(2 * f.pipeline->latent_elements()), fp(ref.size()), q8(ref.size());
  ASSERT_TRUE(f.pipeline->Generate(g, ref.data()).ok());
  for (CachePolicy p : {CachePolicy::kTdc, CachePolicy::kTaylor, CachePolicy::kFirstBlock, CachePolicy::kStatic}) {
    g.cache = On(p, 0.5f);
    ASSERT_TRUE(f.pipeline->Generate(g, fp.data()).ok());
    const size_t fp_bytes = f.pipeline->stats().cache_bytes;
    const int64_t fp_skipped = f.pipeline->stats().blocks_skipped;
    g.cache.delta_int8 = true;
    ASSERT_TRUE(f.pipeline->Generate(g, q8.data()).ok());
    // Plan: per region and copy, elements bytes + one float per token (hidden 32).
    const size_t copies = p == CachePolicy::kTaylor ? 2 : 1;
    const size_t elems = fp_bytes / sizeof(float) / copies;  // every region, fp32 layout
    const size_t want = copies * (elems + elems / 32 * sizeof(float));
    // fb keeps block 0 (never reused, its residual is the signal) and its reference in FP32.
    if (p != CachePolicy::kFirstBlock) EXPECT_EQ(f.pipeline->stats().cache_bytes, want) << CachePolicyName(p);
    EXPECT_LT(f.pipeline->stats().cache_bytes, fp_bytes) << CachePolicyName(p);
    EXPECT_GT(fp_skipped, 0);
    const double e_fp = RelL2(ref, fp), e_q8 = RelL2(ref, q8), e_between = RelL2(fp, q8);
    std::printf("%s: fp32 residuals %.3e, int8 %.3e (vs each other %.3e), %zu -> %zu bytes\n", CachePolicyName(p), e_fp,
                e_q8, e_between, fp_bytes, f.pipeline->stats().cache_bytes);
    EXPECT_LT(e_q8, 2.0 * e_fp + 1e-4) << CachePolicyName(p);
    g.cache.threshold = 0.f;  // off stays bit-identical
    g.cache.interval = 0;
    ASSERT_TRUE(f.pipeline->Generate(g, q8.data()).ok());
    EXPECT_EQ(ref, q8) << CachePolicyName(p);
  }
}

}  // namespace
}  // namespace edge
