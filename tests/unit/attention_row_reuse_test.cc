// Token-level reuse in attention (ops/attention_row_reuse.h): recomputed rows
// are exactly dense attention's rows (FP32 and INT8), the reuse decisions and
// reused values follow the documented rule (checked against an independent
// re-implementation over several steps), odd shapes and both layouts,
// NaN queries, 1 and 2 threads giving the same bits; and through a whole
// generation: off is bit-identical, every row recomputed is bit-identical,
// and reuse changes the result only a little on a smooth trajectory.
#include "ops/attention_row_reuse.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include <gtest/gtest.h>
#include <pthreadpool.h>

#include "ops/cpu_features.h"
#include "ops/f32_attention.h"
#include "ops/kernel_config.h"
#include "ops/qs8_attention.h"
#include "runtime/pipeline.h"
#include "runtime/writer/dit_builder.h"
#include "runtime/writer/model_writer.h"

namespace edge {
namespace {

struct Shape {
  size_t batch, heads, nq, nk, dh;
  AttentionLayout layout;
};

struct Problem {
  Shape s;
  std::vector<float> q, k, v;
  F32AttentionParams p;
  void Bind(float* out) {
    p = F32AttentionParams();
    p.batch = s.batch;
    p.heads = s.heads;
    p.nq = s.nq;
    p.nk = s.nk;
    p.head_dim = s.dh;
    p.scale = 1.f / std::sqrt(float(s.dh));
    f32_attention_set_layout(&p, s.layout);
    p.q = q.data();
    p.k = k.data();
    p.v = v.data();
    p.out = out;
  }
};

Problem MakeProblem(const Shape& s, uint32_t seed) {
  Problem pr;
  pr.s = s;
  std::mt19937 rng(seed);
  std::normal_distribution<float> n(0.f, 1.f);
  pr.q.resize(s.batch * s.heads * s.nq * s.dh);
  pr.k.resize(s.batch * s.heads * s.nk * s.dh);
  pr.v.resize(pr.k.size());
  for (float& x : pr.q) x = n(rng);
  for (float& x : pr.k) x = n(rng);
  for (float& x : pr.v) x = n(rng);
  return pr;
}

// One denoising-like step: every value moves; each query row by its own
// amount (some rows almost still, some far), keys and values a little.
void Drift(Problem* pr, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> n(0.f, 1.f);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  const size_t dh = pr->s.dh;
  for (size_t r = 0; r < pr->q.size() / dh; ++r) {
    const float amount = u(rng) < 0.5f ? 0.002f : 0.2f;
    for (size_t j = 0; j < dh; ++j) pr->q[r * dh + j] += amount * n(rng);
  }
  for (float& x : pr->k) x += 0.01f * n(rng);
  for (float& x : pr->v) x += 0.01f * n(rng);
}

struct Attend {
  const F32AttentionKernel* f32 = nullptr;
  const Qs8AttentionKernel* q8 = nullptr;
  std::vector<uint8_t> scratch;
  pthreadpool_t pool = nullptr;
};

void RunAttend(const F32AttentionParams& p, void* user) {
  Attend* a = static_cast<Attend*>(user);
  if (a->q8 != nullptr) {
    qs8_attention(*a->q8, p, a->scratch.data(), a->pool);
  } else {
    f32_attention(*a->f32, p, a->scratch.data(), a->pool);
  }
}

Attend MakeAttend(const F32AttentionParams& p, bool int8, pthreadpool_t pool) {
  Attend a;
  const CpuFeatures& cpu = DetectCpuFeatures();
  a.pool = pool;
  const size_t threads = pool != nullptr ? pthreadpool_get_threads_count(pool) : 1;
  if (int8) {
    a.q8 = kernel_config().qs8_attention;
    a.scratch.resize(qs8_attention_scratch_bytes(*a.q8, p, threads) + 64);
  } else {
    a.f32 = kernel_config().attention;
    a.scratch.resize(f32_attention_scratch_bytes(*a.f32, p.head_dim, threads) + 64);
  }
  return a;
}

// 64-byte aligned storage.
struct Aligned {
  std::vector<uint8_t> mem;
  void* ptr(size_t bytes) {
    mem.assign(bytes + 64, 0);
    return mem.data() + (64 - reinterpret_cast<uintptr_t>(mem.data()) % 64) % 64;
  }
};

// The rule of ops/attention_row_reuse.h written again, row by row, on the
// dense outputs of the same kernel (so computed rows agree to the bit and
// the decisions can be compared exactly).
struct RefRow {
  std::vector<float> ref, prev;
  int gap = 0, stale = 0, step = 0;
  float rate = -1.f;
  bool has = false;
};

std::vector<float> RefPredict(const RefRow& r, int order, double ahead) {
  std::vector<float> o = r.ref;
  if (order == 1 && r.gap > 0) {
    const float a = static_cast<float>(ahead / double(r.gap));
    for (size_t j = 0; j < o.size(); ++j) o[j] = r.ref[j] + a * (r.ref[j] - r.prev[j]);
  }
  return o;
}

void RefRefresh(RefRow* r, const float* o, size_t dh, int order, int step) {
  const double gap = std::max(1, step - r->step);
  if (r->has) {
    const std::vector<float> f = RefPredict(*r, order, gap);
    double diff = 0, norm = 0;
    for (size_t j = 0; j < dh; ++j) {
      diff += (double(o[j]) - f[j]) * (double(o[j]) - f[j]);
      norm += double(o[j]) * o[j];
    }
    r->rate = norm > 0 ? static_cast<float>(std::sqrt(diff / norm) / gap) : HUGE_VALF;
  } else {
    r->rate = -1.f;
  }
  if (order == 1) {
    r->prev = r->has ? r->ref : std::vector<float>(dh, 0.f);
    r->gap = r->has ? static_cast<int>(gap) : 0;
  }
  r->ref.assign(o, o + dh);
  r->has = true;
  r->step = step;
  r->stale = 0;
}

// Runs six steps of drift through the reuse path and through the
// re-implementation. The step numbers skip some (as when the step cache or
// guidance reuse leaves this op out), so the rule's step counting is checked.
void CheckAgainstReference(const Shape& s, const AttentionRowReuseConfig& c, int order, bool int8,
                           pthreadpool_t pool, std::vector<float>* final_out = nullptr) {
  Problem pr = MakeProblem(s, 7);
  std::vector<float> out(pr.q.size()), dense(pr.q.size());
  pr.Bind(out.data());
  Attend a = MakeAttend(pr.p, int8, pool);
  Aligned state_mem, scratch_mem;
  AttentionRowReuseState st =
      attention_row_reuse_state(pr.p, order, state_mem.ptr(attention_row_reuse_state_bytes(pr.p, order)));
  void* scratch = scratch_mem.ptr(attention_row_reuse_scratch_bytes(pr.p));
  const size_t rows_total = s.batch * s.heads * s.nq;
  std::vector<RefRow> ref(rows_total);
  size_t later = 0;  // rows computed on steps 2..5
  const int kSteps[6] = {0, 1, 2, 4, 5, 8};
  for (int call = 0; call < 6; ++call) {
    const int step = kSteps[call];
    if (call > 0) Drift(&pr, 100 + call);
    pr.Bind(out.data());
    const bool full = call == 0;
    const size_t computed = attention_row_reuse_run(pr.p, c, step, full, &st, scratch, RunAttend, &a);
    // Reference: dense on the same kernel, then the rule per row.
    F32AttentionParams pd = pr.p;
    pd.out = dense.data();
    RunAttend(pd, &a);
    size_t ref_computed = 0;
    for (size_t b = 0; b < s.batch; ++b) {
      for (size_t h = 0; h < s.heads; ++h) {
        for (size_t i = 0; i < s.nq; ++i) {
          RefRow& r = ref[(b * s.heads + h) * s.nq + i];
          const size_t off = b * pd.o_bs + h * pd.o_hs + i * pd.o_ts;
          const int elapsed = std::max(1, step - r.step);
          const bool reuse = !full && r.rate >= 0.f && r.rate * float(elapsed) < c.threshold && r.stale < c.max_stale;
          if (!reuse) {
            ++ref_computed;
            RefRefresh(&r, dense.data() + off, s.dh, order, step);
            for (size_t j = 0; j < s.dh; ++j) {
              ASSERT_EQ(out[off + j], dense[off + j]) << "computed row " << i << " step " << step;
            }
          } else {
            const std::vector<float> f = RefPredict(r, order, double(elapsed));
            for (size_t j = 0; j < s.dh; ++j) {
              ASSERT_NEAR(out[off + j], f[j], 1e-6f * (1.f + std::fabs(f[j]))) << "reused row " << i;
            }
            r.stale += 1;
          }
        }
      }
    }
    ASSERT_EQ(computed, ref_computed) << "step " << step;
    if (call >= 2) later += computed;
  }
  EXPECT_LT(later, 4 * rows_total) << "the slow rows should be reused";
  EXPECT_GT(later, 0u) << "the fast rows should be recomputed";
  if (final_out != nullptr) *final_out = out;
}

TEST(AttentionRowReuse, FollowsTheRuleOnOddShapesAndBothLayouts) {
  AttentionRowReuseConfig c;
  c.threshold = 0.05f;
  c.max_stale = 2;
  const Shape shapes[] = {
      {1, 2, 37, 53, 32, AttentionLayout::kBSHD},   // cross-attention, odd counts
      {2, 1, 67, 67, 72, AttentionLayout::kBHSD},
      {1, 2, 100, 100, 64, AttentionLayout::kBSHD},
      {1, 1, 13, 29, 128, AttentionLayout::kBHSD},
  };
  for (const Shape& s : shapes) {
    for (int order = 0; order <= 1; ++order) {
      SCOPED_TRACE(::testing::Message() << "nq " << s.nq << " nk " << s.nk << " dh " << s.dh << " order " << order);
      CheckAgainstReference(s, c, order, false, nullptr);
    }
  }
}

TEST(AttentionRowReuse, Int8RowsAreTheDenseInt8Rows) {
  AttentionRowReuseConfig c;
  c.threshold = 0.05f;
  CheckAgainstReference({1, 2, 70, 70, 64, AttentionLayout::kBSHD}, c, 1, true, nullptr);
  CheckAgainstReference({2, 1, 33, 45, 32, AttentionLayout::kBHSD}, c, 0, true, nullptr);
}

TEST(AttentionRowReuse, SameBitsForOneAndTwoThreads) {
  AttentionRowReuseConfig c;
  c.threshold = 0.05f;
  const Shape s = {2, 2, 150, 150, 64, AttentionLayout::kBSHD};
  std::vector<float> one, two;
  CheckAgainstReference(s, c, 1, false, nullptr, &one);
  pthreadpool_t pool = pthreadpool_create(2);
  CheckAgainstReference(s, c, 1, false, pool, &two);
  pthreadpool_destroy(pool);
  ASSERT_EQ(one.size(), two.size());
  EXPECT_EQ(std::memcmp(one.data(), two.data(), one.size() * sizeof(float)), 0);
}

TEST(AttentionRowReuse, NanQueryRowIsRecomputedAndCarriesTheNan) {
  const Shape s = {1, 1, 20, 20, 32, AttentionLayout::kBSHD};
  Problem pr = MakeProblem(s, 3);
  std::vector<float> out(pr.q.size());
  pr.Bind(out.data());
  Attend a = MakeAttend(pr.p, false, nullptr);
  Aligned sm, xm;
  AttentionRowReuseState st = attention_row_reuse_state(pr.p, 1, sm.ptr(attention_row_reuse_state_bytes(pr.p, 1)));
  void* scratch = xm.ptr(attention_row_reuse_scratch_bytes(pr.p));
  AttentionRowReuseConfig c;
  c.threshold = 1e6f;  // everything with a finite rate is reused
  attention_row_reuse_run(pr.p, c, 0, true, &st, scratch, RunAttend, &a);
  attention_row_reuse_run(pr.p, c, 1, false, &st, scratch, RunAttend, &a);  // rates measured: 0
  pr.q[5 * s.dh] = std::nanf("");
  const size_t computed = attention_row_reuse_run(pr.p, c, 2, false, &st, scratch, RunAttend, &a);
  EXPECT_EQ(computed, 0u) << "a stale cache cannot see the NaN until the row recomputes";
  // A forced full run computes it; its rate then is NaN, so it recomputes every time after.
  attention_row_reuse_run(pr.p, c, 3, true, &st, scratch, RunAttend, &a);
  EXPECT_TRUE(std::isnan(out[5 * s.dh]));
  const size_t again = attention_row_reuse_run(pr.p, c, 4, false, &st, scratch, RunAttend, &a);
  EXPECT_EQ(again, 1u);
  EXPECT_TRUE(std::isnan(out[5 * s.dh]));
  EXPECT_FALSE(std::isnan(out[4 * s.dh]));
}

// A whole generation through Session and Pipeline.
struct Gen {
  std::vector<uint8_t> bytes;
  std::unique_ptr<Model> model;
  std::unique_ptr<Session> session;
  std::unique_ptr<Pipeline> pipeline;
};

void MakeGen(Gen* g, const TokenReuseOptions& tr, int threads, float stored = 0.f) {
  testing::DitConfig cfg;
  cfg.token_reuse = stored;
  cfg.batch = 2;
  cfg.depth = 2;
  cfg.hidden = 32;
  cfg.heads = 2;
  cfg.image_size = 16;
  ModelWriter w;
  testing::BuildDit(cfg, &w);
  ASSERT_TRUE(w.Finish(&g->bytes).ok());
  auto m = Model::LoadBuffer(g->bytes.data(), g->bytes.size(), true);
  ASSERT_TRUE(m.ok()) << m.status().message();
  g->model = std::move(m.value());
  SessionOptions so;
  so.num_threads = threads;
  so.token_reuse = tr;
  auto s = Session::Create(g->model.get(), so);
  ASSERT_TRUE(s.ok()) << s.status().message();
  g->session = std::move(s.value());
  auto p = Pipeline::Create(g->session.get());
  ASSERT_TRUE(p.ok()) << p.status().message();
  g->pipeline = std::move(p.value());
}

std::vector<float> Generate(Gen* g, int samples, int guidance_reuse = 0) {
  GenerateOptions o;
  o.num_samples = samples;
  o.steps = 12;
  o.guidance = 2.f;
  o.seed = 5;
  o.guidance_reuse.interval = guidance_reuse;
  std::vector<float> out(size_t(samples) * g->pipeline->latent_elements());
  Status st = g->pipeline->Generate(o, out.data());
  EXPECT_TRUE(st.ok()) << st.message();
  return out;
}

TEST(AttentionRowReuse, GenerationOffAndAllRowsAreBitIdentical) {
  Gen base, all, some;
  MakeGen(&base, TokenReuseOptions(), 1);
  TokenReuseOptions every;
  every.threshold = 1e-30f;  // no row's rate is below it: all recomputed
  MakeGen(&all, every, 1);
  const std::vector<float> a = Generate(&base, 3), b = Generate(&all, 3);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0);

  // Reuse on: close to the baseline, not equal, and the same again on a
  // second generation (state resets between generations and chunks).
  TokenReuseOptions tr;
  tr.threshold = 0.05f;
  TokenReuseOptions::Stats stats;
  std::vector<double> rows(12), total(12);
  stats.step_rows = rows.data();
  stats.step_total = total.data();
  stats.steps = 12;
  tr.stats = &stats;
  MakeGen(&some, tr, 1);
  const std::vector<float> c = Generate(&some, 3), d = Generate(&some, 3);
  EXPECT_EQ(std::memcmp(c.data(), d.data(), c.size() * sizeof(float)), 0);
  double diff = 0, norm = 0;
  for (size_t j = 0; j < a.size(); ++j) {
    diff += (double(c[j]) - a[j]) * (double(c[j]) - a[j]);
    norm += double(a[j]) * a[j];
  }
  EXPECT_GT(diff, 0.0);
  EXPECT_LT(std::sqrt(diff / norm), 0.1);
  double r = 0, t = 0;
  for (int i = 0; i < 12; ++i) r += rows[i], t += total[i];
  EXPECT_LT(r, t);
  EXPECT_EQ(rows[0], total[0]) << "warm-up steps compute every row";
  EXPECT_EQ(rows[11], total[11]) << "the last step computes every row";
  EXPECT_GT(stats.state_bytes, 0u);
}

TEST(AttentionRowReuse, TheModelsStoredThresholdAppliesUnlessOverridden) {
  TokenReuseOptions asked;
  asked.threshold = 0.05f;
  TokenReuseOptions off;
  off.threshold = 0.f;
  Gen session_set, stored, stored_off, plain;
  MakeGen(&session_set, asked, 1);
  MakeGen(&stored, TokenReuseOptions(), 1, 0.05f);  // threshold -1: the model's
  MakeGen(&stored_off, off, 1, 0.05f);
  MakeGen(&plain, TokenReuseOptions(), 1);
  const std::vector<float> a = Generate(&session_set, 2), b = Generate(&stored, 2);
  const std::vector<float> c = Generate(&stored_off, 2), d = Generate(&plain, 2);
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0);
  EXPECT_EQ(std::memcmp(c.data(), d.data(), c.size() * sizeof(float)), 0);
  EXPECT_NE(std::memcmp(a.data(), d.data(), a.size() * sizeof(float)), 0);
  // The profile and --verbose name the reuse path.
  int attention_ops = 0;
  for (int i = 0; i < stored.model->num_nodes(); ++i) {
    if (stored.model->node(i).type != fb::OpType::Attention) continue;
    ++attention_ops;
    EXPECT_STREQ(stored.session->kernel_name(i), "f32_attention_rowreuse");
    EXPECT_STRNE(plain.session->kernel_name(i), "f32_attention_rowreuse");
  }
  EXPECT_GT(attention_ops, 0);
}

TEST(AttentionRowReuse, GenerationSameBitsForOneAndTwoThreadsAndWithGuidanceReuse) {
  TokenReuseOptions tr;
  tr.threshold = 0.05f;
  Gen one, two;
  MakeGen(&one, tr, 1);
  MakeGen(&two, tr, 2);
  const std::vector<float> a = Generate(&one, 2), b = Generate(&two, 2);
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0);
  // Cond and uncond run apart under guidance reuse: one state per branch.
  const std::vector<float> c = Generate(&one, 2, 3), d = Generate(&two, 2, 3);
  EXPECT_EQ(std::memcmp(c.data(), d.data(), c.size() * sizeof(float)), 0);
}

TEST(AttentionRowReuse, RefusesBadKnobsAndSparseAttention) {
  Gen g;
  testing::DitConfig cfg;
  cfg.depth = 1;
  cfg.hidden = 32;
  cfg.heads = 2;
  cfg.image_size = 24;  // 144 tokens: sparse plans apply
  ModelWriter w;
  testing::BuildDit(cfg, &w);
  ASSERT_TRUE(w.Finish(&g.bytes).ok());
  auto m = Model::LoadBuffer(g.bytes.data(), g.bytes.size(), true);
  ASSERT_TRUE(m.ok());
  SessionOptions so;
  so.token_reuse.threshold = 0.1f;
  so.token_reuse.max_stale = 300;
  EXPECT_FALSE(Session::Create(m.value().get(), so).ok());
  so.token_reuse.max_stale = 2;
  so.token_reuse.order = 2;
  EXPECT_FALSE(Session::Create(m.value().get(), so).ok());
  so.token_reuse.order = 1;
  so.attention_sparse.mode = 2;
  auto r = Session::Create(m.value().get(), so);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(std::string(r.status().message()).find("dense attention"), std::string::npos);
  so.attention_sparse.mode = 0;
  EXPECT_TRUE(Session::Create(m.value().get(), so).ok());
}

}  // namespace
}  // namespace edge
