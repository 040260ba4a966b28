// Session and pipeline: a DiT built with the writer runs end to end, the
// planner's arena stays within 1.5x the peak live set at DiT-B/2 size, and
// bad use gets clear errors.
#include "runtime/session.h"

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/edge.h"
#include "runtime/pipeline.h"
#include "runtime/writer/dit_builder.h"

namespace edge {
namespace {

std::unique_ptr<Model> BuildModel(const testing::DitConfig& cfg, std::vector<uint8_t>* bytes) {
  ModelWriter w;
  testing::BuildDit(cfg, &w);
  Status st = w.Finish(bytes);
  EXPECT_TRUE(st.ok()) << st.message();
  auto m = Model::LoadBuffer(bytes->data(), bytes->size(), /*copy=*/true);
  EXPECT_TRUE(m.ok()) << m.status().message();
  return m.ok() ? std::move(m.value()) : nullptr;
}

TEST(Session, SmallDitRunsAndIsDeterministic) {
  testing::DitConfig cfg;
  cfg.depth = 2;
  cfg.hidden = 64;
  cfg.image_size = 8;
  std::vector<uint8_t> bytes;
  auto model = BuildModel(cfg, &bytes);
  ASSERT_NE(model, nullptr);
  SessionOptions so;
  so.profile = true;
  auto s = Session::Create(model.get(), so);
  ASSERT_TRUE(s.ok()) << s.status().message();
  auto p = Pipeline::Create(s->get());
  ASSERT_TRUE(p.ok()) << p.status().message();
  GenerateOptions g;
  g.steps = 3;
  g.num_samples = 3;
  g.seed = 11;
  g.guidance = 2.f;  // batch 2: cond/uncond paired, 1 sample per run
  std::vector<float> a(3 * (*p)->latent_elements()), b(a.size());
  Status st = (*p)->Generate(g, a.data());
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ((*p)->stats().graph_runs, 9);
  st = (*p)->Generate(g, b.data());
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(a, b);
  for (float v : a) ASSERT_TRUE(std::isfinite(v));
  // Every op was timed once per graph run.
  for (const auto& op : (*s)->profile()) EXPECT_EQ(op.calls, 18);
}

TEST(Session, SetInputChecksSizeAndRole) {
  testing::DitConfig cfg;
  cfg.depth = 1;
  cfg.hidden = 32;
  cfg.image_size = 4;
  std::vector<uint8_t> bytes;
  auto model = BuildModel(cfg, &bytes);
  ASSERT_NE(model, nullptr);
  auto s = Session::Create(model.get(), SessionOptions());
  ASSERT_TRUE(s.ok()) << s.status().message();
  const int x = model->FindTensor("x");
  ASSERT_GE(x, 0);
  std::vector<float> wrong(3);
  Status st = (*s)->SetInput(x, wrong.data(), wrong.size() * sizeof(float));
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(st.message()).find("needs"), std::string::npos) << st.message();
  const int out = model->FindTensor("out");
  st = (*s)->SetInput(out, wrong.data(), 12);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ((*s)->InvokeRange(5, 100000).code(), StatusCode::kInvalidArgument);
}

TEST(Session, EmbeddingIdOutOfRangeIsAnErrorNotACrash) {
  testing::DitConfig cfg;
  cfg.depth = 1;
  cfg.hidden = 32;
  cfg.image_size = 4;
  std::vector<uint8_t> bytes;
  auto model = BuildModel(cfg, &bytes);
  ASSERT_NE(model, nullptr);
  auto s = Session::Create(model.get(), SessionOptions());
  ASSERT_TRUE(s.ok()) << s.status().message();
  const int y = model->FindTensor("y");
  const int64_t ids[2] = {0, 1 << 20};
  ASSERT_TRUE((*s)->SetInput(y, ids, sizeof(ids)).ok());
  Status st = (*s)->Invoke();
  EXPECT_FALSE(st.ok());
}

TEST(Session, DitB2ArenaWithinBoundOfPeakLiveSet) {
  ModelWriter w;
  testing::BuildDit(testing::DitB2Config(), &w);
  std::vector<uint8_t> bytes;
  ASSERT_TRUE(w.Finish(&bytes).ok());
  auto model = Model::LoadBuffer(bytes.data(), bytes.size(), /*copy=*/false);
  ASSERT_TRUE(model.ok()) << model.status().message();
  auto s = Session::Create(model->get(), SessionOptions());
  ASSERT_TRUE(s.ok()) << s.status().message();
  const double mib = 1024.0 * 1024.0;
  std::printf("DiT-B/2 (12 blocks, D=768, 1024 tokens): arena %.1f MiB, sum of all activations %.1f MiB, "
              "peak live set %.1f MiB, arena/peak %.3f\n",
              (*s)->arena_bytes() / mib, (*s)->sum_activation_bytes() / mib, (*s)->peak_live_bytes() / mib,
              double((*s)->arena_bytes()) / double((*s)->peak_live_bytes()));
  EXPECT_LE(double((*s)->arena_bytes()), 1.5 * double((*s)->peak_live_bytes()));
  EXPECT_LT((*s)->arena_bytes(), (*s)->sum_activation_bytes() / 4);
}

TEST(CApi, LoadErrorsAndGenerate) {
  edge_model* m = nullptr;
  EXPECT_NE(edge_model_load("/nonexistent/model.fb", &m), EDGE_OK);
  EXPECT_EQ(m, nullptr);
  EXPECT_NE(std::string(edge_last_error()), "");

  testing::DitConfig cfg;
  cfg.depth = 1;
  cfg.hidden = 32;
  cfg.image_size = 4;
  ModelWriter w;
  testing::BuildDit(cfg, &w);
  const std::string path = ::testing::TempDir() + "/capi_dit.fb";
  ASSERT_TRUE(w.WriteFile(path).ok());
  ASSERT_EQ(edge_model_load(path.c_str(), &m), EDGE_OK) << edge_last_error();
  edge_session_options so;
  edge_session_options_default(&so);
  edge_session* s = nullptr;
  ASSERT_EQ(edge_session_create(m, &so, &s), EDGE_OK) << edge_last_error();
  const size_t L = edge_latent_elements(s);
  ASSERT_EQ(L, 4u * 4 * 4);
  edge_generate_options g;
  edge_generate_options_default(&g);
  g.steps = 2;
  g.num_samples = 2;
  std::vector<float> out(2 * L);
  EXPECT_EQ(edge_generate(s, &g, out.data(), out.size() - 1), EDGE_INVALID_ARGUMENT);
  EXPECT_EQ(edge_generate(s, &g, out.data(), out.size()), EDGE_OK) << edge_last_error();
  edge_session_free(s);
  edge_model_free(m);
  std::remove(path.c_str());
}

// SessionOptions::max_arena_bytes: a plan over the cap is refused in Create,
// before the arena is allocated; a cap it fits under changes nothing.
TEST(Session, ArenaCapRefusesLargerPlansBeforeAllocating) {
  std::vector<uint8_t> bytes;
  auto model = BuildModel(testing::DitConfig(), &bytes);
  ASSERT_NE(model, nullptr);
  size_t need = 0;
  {
    auto uncapped = Session::Create(model.get(), SessionOptions());
    ASSERT_TRUE(uncapped.ok()) << uncapped.status().message();
    need = (*uncapped)->arena_bytes();
  }
  ASSERT_GT(need, 0u);
  SessionOptions so;
  so.max_arena_bytes = need - 1;
  auto refused = Session::Create(model.get(), so);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kOutOfMemory);
  EXPECT_NE(std::string(refused.status().message()).find("cap"), std::string::npos) << refused.status().message();
  so.max_arena_bytes = need;
  auto fits = Session::Create(model.get(), so);
  ASSERT_TRUE(fits.ok()) << fits.status().message();
  EXPECT_EQ((*fits)->arena_bytes(), need);
}

}  // namespace
}  // namespace edge
