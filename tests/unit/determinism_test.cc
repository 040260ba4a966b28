// Whole models give the same bits with 1, 2 and 3 threads: one forward pass
// of the fixture DiT in FP32, with INT8 and NVFP4 weights, INT8 attention,
// tile- and cluster-sparse attention, and whole generations through the
// Pipeline with the step cache on (alone and combined with the rest). Every
// kernel splits work across threads by output rows or heads and keeps each
// sum's order fixed, so nothing here is allowed to differ in a single bit.
#include <cstdio>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/pipeline.h"
#include "runtime/session.h"
#include "runtime/writer/dit_builder.h"
#include "tests/unit/test_util.h"

namespace edge {
namespace {

using testing::LinearWeights;
using test_util::SameBits;

struct Config {
  const char* name;
  LinearWeights weights;
  int attention_precision;  // -1 as stored
  float density;            // tiles (< 0: as stored)
  int sparse_mode;          // -1 as stored, 2 clusters
};

const Config kConfigs[] = {
    {"fp32", LinearWeights::kF32, -1, -1.f, -1},
    {"int8 weights", LinearWeights::kInt8, -1, -1.f, -1},
    {"nvfp4 weights", LinearWeights::kNvfp4, -1, -1.f, -1},
    {"int8 attention", LinearWeights::kF32, 1, -1.f, -1},
    {"tile-sparse attention", LinearWeights::kF32, -1, 0.34f, 1},
    {"cluster-sparse attention", LinearWeights::kF32, -1, -1.f, 2},
    {"int8 weights, int8 cluster-sparse attention", LinearWeights::kInt8, 1, -1.f, 2},
    {"nvfp4 weights, tile-sparse attention", LinearWeights::kNvfp4, -1, 0.5f, 1},
    {"fp32 packed weights", LinearWeights::kF32Packed, -1, -1.f, -1},
};
// Whole generations: FP32, and the two combinations of every approximation.
const Config* const kGenerationConfigs[] = {&kConfigs[0], &kConfigs[6], &kConfigs[7]};

SessionOptions Options(const Config& c, int threads) {
  SessionOptions so;
  so.num_threads = threads;
  so.attention_precision = c.attention_precision;
  so.attention_density = c.density;
  so.attention_sparse.mode = c.sparse_mode;
  return so;
}

std::unique_ptr<Model> Dit(LinearWeights weights) {
  testing::DitConfig cfg = test_util::SmallDitConfig(18);  // 81 tokens: sparse paths apply
  cfg.linear_weights = weights;
  return test_util::BuildDitModel(cfg);
}

TEST(Determinism, ForwardPassSameBitsFor1To3Threads) {
  for (const Config& c : kConfigs) {
    SCOPED_TRACE(c.name);
    auto model = Dit(c.weights);
    ASSERT_NE(model, nullptr);
    const auto in = test_util::DitInputs(*model);
    std::string names;
    const std::vector<float> one = test_util::RunOnce(*model, Options(c, 1), in, &names);
    ASSERT_FALSE(one.empty());
    // The configuration is really in effect.
    if (c.weights == LinearWeights::kInt8) EXPECT_NE(names.find("qs8"), std::string::npos) << names;
    if (c.weights == LinearWeights::kNvfp4) EXPECT_NE(names.find("nvfp4"), std::string::npos) << names;
    if (c.attention_precision == 1) EXPECT_NE(names.find("qs8_attention"), std::string::npos) << names;
    if (c.sparse_mode == 1) EXPECT_NE(names.find("blocksparse"), std::string::npos) << names;
    if (c.sparse_mode == 2) EXPECT_NE(names.find("clustersparse"), std::string::npos) << names;
    for (int threads : {2, 3}) {
      const std::vector<float> got = test_util::RunOnce(*model, Options(c, threads), in);
      EXPECT_TRUE(SameBits(one, got)) << threads << " threads differ from 1, rel L2 "
                                      << test_util::RelL2(one, got);
    }
  }
}

TEST(Determinism, CachedGenerationsSameBitsFor1To3Threads) {
  // 6 flow steps with guidance and the step cache (tdc): steps 2-4 may skip.
  for (const Config* cp : kGenerationConfigs) {
    const Config& c = *cp;
    SCOPED_TRACE(c.name);
    auto model = Dit(c.weights);
    ASSERT_NE(model, nullptr);
    GenerateOptions g;
    g.steps = 6;
    g.seed = 7;
    g.num_samples = 1;
    g.guidance = 2.f;
    g.cache.policy = CachePolicy::kTdc;
    g.cache.threshold = 0.3f;
    g.cache.max_skips = 2;
    GenerateStats stats;
    const std::vector<float> one = test_util::Generate(*model, Options(c, 1), g, &stats);
    ASSERT_FALSE(one.empty());
    EXPECT_GT(stats.blocks_skipped, 0) << "the cache never skipped: not a cached generation";
    EXPECT_GT(stats.blocks_computed, 0);
    for (int threads : {2, 3}) {
      GenerateStats st;
      const std::vector<float> got = test_util::Generate(*model, Options(c, threads), g, &st);
      EXPECT_TRUE(SameBits(one, got)) << threads << " threads differ from 1, rel L2 "
                                      << test_util::RelL2(one, got);
      EXPECT_EQ(st.blocks_skipped, stats.blocks_skipped) << threads << " threads";
    }
  }
}

}  // namespace
}  // namespace edge
