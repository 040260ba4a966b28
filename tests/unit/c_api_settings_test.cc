// The edge-run settings the C API carries (runtime/c_api_settings.cc): each one
// made through edge.h must give bit-identical samples (or the same refusal) as
// the same setting made on SessionOptions / CacheRequest / CacheOptions and run
// through Session + Pipeline directly; and each must change the result against
// its neighbour setting, so a field the C API dropped cannot pass unnoticed.
// Also the version query, the latent shape and the range checks.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/delta_cache.h"
#include "runtime/edge.h"
#include "runtime/pipeline.h"
#include "runtime/session.h"
#include "runtime/writer/dit_builder.h"
#include "runtime/writer/model_writer.h"

namespace edge {
namespace {

// Six steps: room for the cache settings (warm-up, skips in a row) to act.
constexpr int kSteps = 6, kSamples = 1;
constexpr uint64_t kSeed = 5;
constexpr float kGuidance = 3.f;
const int64_t kClasses[kSamples] = {3};

struct Outcome {
  bool ok = false;
  std::string error;
  std::vector<float> samples;
};

bool Same(const Outcome& a, const Outcome& b) {
  // Bit for bit (== would let -0/+0 pass and fail on NaN); no memcmp on empty (null) data.
  return a.ok == b.ok && a.error == b.error && a.samples.size() == b.samples.size() &&
         (a.samples.empty() ||
          std::memcmp(a.samples.data(), b.samples.data(), a.samples.size() * sizeof(float)) == 0);
}

// One setting, written once per API. Null members leave the defaults.
struct Setting {
  const char* name;
  const char* neighbour;  // must differ from this one's result (null: not observable)
  void (*c)(edge_session_options*, edge_generate_options*);
  void (*session)(SessionOptions*);
  void (*request)(CacheRequest*);
  void (*storage)(CacheOptions*);
};

void Tiles(SessionOptions* s) { s->attention_sparse.mode = 1, s->attention_density = 0.5f; }
void CTiles(edge_session_options* s) { s->attention_sparse = 1, s->attention_density = 0.5f; }
void Tdc(CacheRequest* q) { q->model_default = false, q->policy = CachePolicy::kTdc, q->threshold = 10.f; }
void CTdc(edge_generate_options* g) { g->cache_policy = 1, g->cache_threshold = 10.f; }

const Setting kSettings[] = {
    {"default", nullptr, [](edge_session_options*, edge_generate_options*) {}, nullptr, nullptr, nullptr},
    {"pin_threads", nullptr,  // affinity only: same samples, and accepted
     [](edge_session_options* s, edge_generate_options*) { s->num_threads = 2, s->pin_threads = 1; },
     [](SessionOptions* s) { s->num_threads = 2, s->pin_big_cores = true; }, nullptr, nullptr},
    {"attention_sparse tiles", "default",
     [](edge_session_options* s, edge_generate_options*) { CTiles(s); }, Tiles, nullptr, nullptr},
    {"attention_compensation", "attention_sparse tiles",
     [](edge_session_options* s, edge_generate_options*) { CTiles(s), s->attention_compensation = 0; },
     [](SessionOptions* s) { Tiles(s), s->attention_compensation = false; }, nullptr, nullptr},
    {"attention_sparse clusters", "default",
     [](edge_session_options* s, edge_generate_options*) { s->attention_sparse = 2; },
     [](SessionOptions* s) { s->attention_sparse.mode = 2; }, nullptr, nullptr},
    {"attention_top_p", "attention_sparse clusters",
     [](edge_session_options* s, edge_generate_options*) { s->attention_sparse = 2, s->attention_top_p = 0.9f; },
     [](SessionOptions* s) { s->attention_sparse.mode = 2, s->attention_sparse.top_p = 0.9f; }, nullptr, nullptr},
    {"attention_min_frac", "attention_sparse clusters",
     [](edge_session_options* s, edge_generate_options*) { s->attention_sparse = 2, s->attention_min_frac = 0.5f; },
     [](SessionOptions* s) { s->attention_sparse.mode = 2, s->attention_sparse.min_frac = 0.5f; }, nullptr, nullptr},
    {"attention_err_tol", "attention_sparse clusters",
     [](edge_session_options* s, edge_generate_options*) { s->attention_sparse = 2, s->attention_err_tol = 0.f; },
     [](SessionOptions* s) { s->attention_sparse.mode = 2, s->attention_sparse.err_tol = 0.f; }, nullptr, nullptr},
    {"attention_cluster_size", "attention_sparse clusters",
     [](edge_session_options* s, edge_generate_options*) { s->attention_sparse = 2, s->attention_cluster_size = 32; },
     [](SessionOptions* s) { s->attention_sparse.mode = 2, s->attention_sparse.cluster_tokens = 32; }, nullptr,
     nullptr},
    {"attention_key_cluster_size", "attention_sparse clusters",
     [](edge_session_options* s, edge_generate_options*) {
       s->attention_sparse = 2, s->attention_key_cluster_size = 16;
     },
     [](SessionOptions* s) { s->attention_sparse.mode = 2, s->attention_sparse.k_cluster_tokens = 16; }, nullptr,
     nullptr},
    {"attention_kmeans_iters", "attention_sparse clusters",
     [](edge_session_options* s, edge_generate_options*) { s->attention_sparse = 2, s->attention_kmeans_iters = 0; },
     [](SessionOptions* s) { s->attention_sparse.mode = 2, s->attention_sparse.kmeans_iters = 0; }, nullptr, nullptr},
    {"attention_refresh", "attention_kmeans_iters",
     [](edge_session_options* s, edge_generate_options*) {
       s->attention_sparse = 2, s->attention_kmeans_iters = 0, s->attention_refresh = 2;
     },
     [](SessionOptions* s) {
       s->attention_sparse.mode = 2, s->attention_sparse.kmeans_iters = 0, s->attention_sparse.refresh = 2;
     },
     nullptr, nullptr},
    {"attention_replan", "attention_sparse clusters",
     [](edge_session_options* s, edge_generate_options*) { s->attention_sparse = 2, s->attention_replan = 3; },
     [](SessionOptions* s) { s->attention_sparse.mode = 2, s->attention_sparse.replan = 3; }, nullptr, nullptr},
    {"attention_dense_steps", "attention_sparse clusters",
     [](edge_session_options* s, edge_generate_options*) { s->attention_sparse = 2, s->attention_dense_steps = 3; },
     [](SessionOptions* s) { s->attention_sparse.mode = 2, s->attention_sparse.dense_steps = 3; }, nullptr, nullptr},
    {"token_reuse_threshold", "default",
     [](edge_session_options* s, edge_generate_options*) { s->token_reuse_threshold = 10.f; },
     [](SessionOptions* s) { s->token_reuse.threshold = 10.f; }, nullptr, nullptr},
    {"token_reuse_warmup", "token_reuse_threshold",
     [](edge_session_options* s, edge_generate_options*) { s->token_reuse_threshold = 10.f, s->token_reuse_warmup = 3; },
     [](SessionOptions* s) { s->token_reuse.threshold = 10.f, s->token_reuse.warmup_steps = 3; }, nullptr, nullptr},
    {"token_reuse_max_stale", "token_reuse_threshold",
     [](edge_session_options* s, edge_generate_options*) {
       s->token_reuse_threshold = 10.f, s->token_reuse_max_stale = 1;
     },
     [](SessionOptions* s) { s->token_reuse.threshold = 10.f, s->token_reuse.max_stale = 1; }, nullptr, nullptr},
    {"token_reuse_order", "token_reuse_threshold",
     [](edge_session_options* s, edge_generate_options*) { s->token_reuse_threshold = 10.f, s->token_reuse_order = 0; },
     [](SessionOptions* s) { s->token_reuse.threshold = 10.f, s->token_reuse.order = 0; }, nullptr, nullptr},
    {"cache tdc", "default", [](edge_session_options*, edge_generate_options* g) { CTdc(g); }, nullptr, Tdc,
     nullptr},
    {"cache_max_skips", "cache tdc",
     [](edge_session_options*, edge_generate_options* g) { CTdc(g), g->cache_max_skips = 1; }, nullptr,
     [](CacheRequest* q) { Tdc(q), q->max_skips = 1; }, nullptr},
    {"cache_warmup", "cache tdc",
     [](edge_session_options*, edge_generate_options* g) { CTdc(g), g->cache_warmup = 4; }, nullptr,
     [](CacheRequest* q) { Tdc(q), q->warmup_steps = 4; }, nullptr},
    {"cache_int8", "cache tdc", [](edge_session_options*, edge_generate_options* g) { CTdc(g), g->cache_int8 = 1; },
     nullptr, Tdc, [](CacheOptions* o) { o->delta_int8 = true; }},
    {"cache_drop", "cache tdc", [](edge_session_options*, edge_generate_options* g) { CTdc(g), g->cache_drop = 1; },
     nullptr, Tdc, [](CacheOptions* o) { o->drop_instead_of_reuse = true; }},
    {"cache static", "default",
     [](edge_session_options*, edge_generate_options* g) { g->cache_policy = 5, g->cache_threshold = -1.f; },
     nullptr,
     [](CacheRequest* q) { q->model_default = false, q->policy = CachePolicy::kStatic; }, nullptr},
    {"cache_steps", "cache static",
     [](edge_session_options*, edge_generate_options* g) {
       static const int steps[] = {0, 1, 3, 7};
       g->cache_policy = 5, g->cache_threshold = -1.f, g->cache_steps = steps, g->num_cache_steps = 4;
     },
     nullptr,
     [](CacheRequest* q) {
       q->model_default = false, q->policy = CachePolicy::kStatic, q->compute_steps = {0, 1, 3, 7};
     },
     nullptr},
    // The fixture has no calibration: auto is refused, naming the target when one is asked for.
    {"cache auto", "default",
     [](edge_session_options*, edge_generate_options* g) { g->cache_policy = -1, g->cache_threshold = -1.f; },
     nullptr, [](CacheRequest* q) { q->model_default = false, q->automatic = true; }, nullptr},
    {"cache_target_psnr", "cache auto",
     [](edge_session_options*, edge_generate_options* g) {
       g->cache_policy = -1, g->cache_threshold = -1.f, g->cache_target_psnr = 30.f;
     },
     nullptr, [](CacheRequest* q) { q->model_default = false, q->automatic = true, q->target_psnr = 30.f; }, nullptr},
};

class CApiSettings : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    testing::DitConfig cfg;
    cfg.depth = 1;
    cfg.hidden = 32;
    cfg.heads = 2;
    cfg.image_size = 32;  // 256 tokens: four 64-key tiles, several clusters
    cfg.weight_std = 0.2f;
    ModelWriter w;
    testing::BuildDit(cfg, &w);
    // One file per process: ctest runs each test of this suite in its own, in parallel.
    path_ = new std::string(::testing::TempDir() + "/c_api_settings_dit_" + std::to_string(getpid()) + ".fb");
    ASSERT_TRUE(w.WriteFile(*path_).ok());
  }
  static void TearDownTestSuite() {
    std::remove(path_->c_str());
    delete path_;
  }

  static Outcome ThroughC(const Setting& st) {
    Outcome r;
    edge_model* m = nullptr;
    edge_session* s = nullptr;
    edge_session_options so;
    edge_session_options_default(&so);
    edge_generate_options g;
    edge_generate_options_default(&g);
    g.steps = kSteps, g.seed = kSeed, g.guidance = kGuidance, g.num_samples = kSamples, g.classes = kClasses;
    st.c(&so, &g);
    edge_status status = edge_model_load(path_->c_str(), &m);
    if (status == EDGE_OK) status = edge_session_create(m, &so, &s);
    if (status == EDGE_OK) {
      r.samples.resize(kSamples * edge_latent_elements(s));
      status = edge_generate(s, &g, r.samples.data(), r.samples.size());
    }
    r.ok = status == EDGE_OK;
    if (!r.ok) r.error = edge_last_error(), r.samples.clear();
    edge_session_free(s);
    edge_model_free(m);
    return r;
  }

  // What edge_generate does with default options, written against the C++ API.
  static Outcome Direct(const Setting& st) {
    Outcome r;
    auto m = Model::LoadFile(path_->c_str());
    EXPECT_TRUE(m.ok()) << m.status().message();
    if (!m.ok()) return r;
    SessionOptions so;
    if (st.session) st.session(&so);
    auto s = Session::Create(m.value().get(), so);
    EXPECT_TRUE(s.ok()) << s.status().message();
    if (!s.ok()) return r;
    auto p = Pipeline::Create(s.value().get());
    EXPECT_TRUE(p.ok()) << p.status().message();
    if (!p.ok()) return r;
    GenerateOptions g;
    g.steps = kSteps, g.seed = kSeed, g.guidance = kGuidance, g.num_samples = kSamples;
    g.classes.assign(kClasses, kClasses + kSamples);
    g.guidance_reuse = {-1, 2, 1};  // edge_generate_options_default: the model's setting
    CacheRequest q;
    q.model_default = true;  // cache_policy -2
    if (st.request) st.request(&q);
    Status status = ResolveCacheOptions(*m.value(), q, &g.cache, nullptr);
    if (status.ok()) {
      if (st.storage) st.storage(&g.cache);
      r.samples.resize(kSamples * p.value()->latent_elements());
      status = p.value()->Generate(g, r.samples.data());
    }
    r.ok = status.ok();
    if (!r.ok) r.error = status.message(), r.samples.clear();
    return r;
  }

  static std::string* path_;
};
std::string* CApiSettings::path_ = nullptr;

TEST_F(CApiSettings, EachSettingMatchesTheRuntimeAndActs) {
  std::vector<Outcome> direct;
  for (const Setting& st : kSettings) {
    SCOPED_TRACE(st.name);
    const Outcome c = ThroughC(st);
    direct.push_back(Direct(st));
    EXPECT_TRUE(Same(c, direct.back())) << "C: " << (c.ok ? "ok" : c.error)
                                        << "; direct: " << (direct.back().ok ? "ok" : direct.back().error);
    if (st.neighbour == nullptr) continue;
    size_t n = 0;
    while (n < direct.size() && std::strcmp(kSettings[n].name, st.neighbour) != 0) ++n;
    ASSERT_LT(n, direct.size()) << "neighbour must come first: " << st.neighbour;
    EXPECT_FALSE(Same(direct.back(), direct[n])) << "no effect against " << st.neighbour;
  }
}

TEST_F(CApiSettings, OutOfRangeIsRefusedNamingTheField) {
  struct Bad {
    const char* field;
    void (*set)(edge_session_options*, edge_generate_options*);
  };
  const Bad bad[] = {
      {"attention_sparse", [](edge_session_options* s, edge_generate_options*) { s->attention_sparse = 3; }},
      {"attention_top_p", [](edge_session_options* s, edge_generate_options*) { s->attention_top_p = 1.5f; }},
      {"attention_err_tol", [](edge_session_options* s, edge_generate_options*) { s->attention_err_tol = NAN; }},
      {"attention_cluster_size", [](edge_session_options* s, edge_generate_options*) { s->attention_cluster_size = -1; }},
      {"attention_refresh", [](edge_session_options* s, edge_generate_options*) { s->attention_refresh = -2; }},
      {"attention_replan", [](edge_session_options* s, edge_generate_options*) { s->attention_replan = -2; }},
      {"cache_max_skips", [](edge_session_options*, edge_generate_options* g) { g->cache_max_skips = -2; }},
      {"cache_warmup", [](edge_session_options*, edge_generate_options* g) { g->cache_warmup = -1; }},
      {"cache_steps", [](edge_session_options*, edge_generate_options* g) { g->num_cache_steps = 2; }},
      {"cache_target_psnr", [](edge_session_options*, edge_generate_options* g) { g->cache_target_psnr = NAN; }},
  };
  edge_model* m = nullptr;
  ASSERT_EQ(edge_model_load(path_->c_str(), &m), EDGE_OK) << edge_last_error();
  for (const Bad& b : bad) {
    SCOPED_TRACE(b.field);
    edge_session_options so;
    edge_session_options_default(&so);
    edge_generate_options g;
    edge_generate_options_default(&g);
    b.set(&so, &g);
    edge_session* s = nullptr;
    edge_status status = edge_session_create(m, &so, &s);
    if (status == EDGE_OK) {
      std::vector<float> out(edge_latent_elements(s));
      status = edge_generate(s, &g, out.data(), out.size());
    }
    EXPECT_EQ(status, EDGE_INVALID_ARGUMENT);
    EXPECT_NE(std::string(edge_last_error()).find(b.field), std::string::npos) << edge_last_error();
    edge_session_free(s);
  }
  edge_model_free(m);
}

TEST_F(CApiSettings, VersionAndLatentShape) {
  EXPECT_EQ(edge_version(), EDGE_VERSION);
  char expect[32];
  std::snprintf(expect, sizeof(expect), "%d.%d.%d", EDGE_VERSION_MAJOR, EDGE_VERSION_MINOR, EDGE_VERSION_PATCH);
  EXPECT_STREQ(edge_version_string(), expect);

  edge_model* m = nullptr;
  ASSERT_EQ(edge_model_load(path_->c_str(), &m), EDGE_OK) << edge_last_error();
  edge_session* s = nullptr;
  ASSERT_EQ(edge_session_create(m, nullptr, &s), EDGE_OK) << edge_last_error();
  int64_t dims[4] = {0, 0, 0, 0};
  ASSERT_EQ(edge_latent_shape(s, dims, 4), 3);
  EXPECT_EQ(dims[0], 4);  // the fixture's latent channels, height, width
  EXPECT_EQ(dims[1], 32);
  EXPECT_EQ(dims[2], 32);
  EXPECT_EQ(dims[3], 0);  // past the rank: untouched
  EXPECT_EQ(size_t(dims[0] * dims[1] * dims[2]), edge_latent_elements(s));
  EXPECT_EQ(edge_latent_shape(s, nullptr, 0), 3);  // the rank alone
  EXPECT_EQ(edge_latent_shape(nullptr, dims, 4), -1);
  edge_session_free(s);
  edge_model_free(m);
}

}  // namespace
}  // namespace edge
