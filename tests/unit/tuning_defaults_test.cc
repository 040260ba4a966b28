// The defaults edge-convert --target-psnr stores (schema Tuning): the
// runtime's default cache setting follows Tuning.cache_entry, explicit
// requests still win, and the loader refuses an entry that does not exist.
#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/delta_cache.h"
#include "runtime/model.h"
#include "runtime/writer/model_writer.h"
#include "runtime/writer/dit_builder.h"

namespace edge {
namespace {

testing::DitConfig SmallDit() {
  testing::DitConfig cfg;
  cfg.depth = 2;
  cfg.hidden = 32;
  cfg.heads = 2;
  cfg.image_size = 8;
  return cfg;
}

// Two calibration entries; Tuning names the second (taylor 0.3).
std::vector<uint8_t> TunedModel(int cache_entry, bool with_calibration = true) {
  ModelWriter w;
  testing::BuildDit(SmallDit(), &w);
  if (with_calibration) {
    CacheCalibrationInfo ci;
    ci.steps = 4;
    CachePolicyCalibrationInfo e;
    e.policy = static_cast<int>(CachePolicy::kTdc);
    e.target_psnr = 35.f;
    e.threshold = 0.1f;
    e.skip_fraction = 0.2f;
    ci.policies.push_back(e);
    e.policy = static_cast<int>(CachePolicy::kTaylor);
    e.target_psnr = 30.f;
    e.threshold = 0.3f;
    e.max_skips = 3;
    e.skip_fraction = 0.4f;
    ci.policies.push_back(e);
    w.SetCacheCalibration(ci);
  }
  TuningInfo t;
  t.target_psnr = 30.f;
  t.calib_psnr = 31.5f;
  t.predicted_speedup = 1.7f;
  t.cache_entry = cache_entry;
  w.SetTuning(t);
  std::vector<uint8_t> bytes;
  EXPECT_TRUE(w.Finish(&bytes).ok());
  return bytes;
}

TEST(TuningDefaults, DefaultCacheIsTheTunedEntry) {
  std::vector<uint8_t> bytes = TunedModel(1);
  auto m = Model::LoadBuffer(bytes.data(), bytes.size(), true);
  ASSERT_TRUE(m.ok()) << m.status().message();
  ASSERT_NE(m.value()->fb()->tuning(), nullptr);
  CacheRequest q;
  q.model_default = true;
  CacheOptions o;
  ASSERT_TRUE(ResolveCacheOptions(*m.value(), q, &o, nullptr).ok());
  EXPECT_EQ(o.policy, CachePolicy::kTaylor);
  EXPECT_FLOAT_EQ(o.threshold, 0.3f);
  EXPECT_EQ(o.max_skips, 3);
  // An explicit request is not a default: it wins.
  q = CacheRequest();
  q.policy = CachePolicy::kNone;
  ASSERT_TRUE(ResolveCacheOptions(*m.value(), q, &o, nullptr).ok());
  EXPECT_EQ(o.policy, CachePolicy::kNone);
}

TEST(TuningDefaults, NoTunedCacheMeansNoCache) {
  std::vector<uint8_t> bytes = TunedModel(-1);
  auto m = Model::LoadBuffer(bytes.data(), bytes.size(), true);
  ASSERT_TRUE(m.ok()) << m.status().message();
  CacheRequest q;
  q.model_default = true;
  CacheOptions o;
  ASSERT_TRUE(ResolveCacheOptions(*m.value(), q, &o, nullptr).ok());
  EXPECT_EQ(o.policy, CachePolicy::kNone);
}

TEST(TuningDefaults, LoaderRefusesBadTuning) {
  auto message = [](const std::vector<uint8_t>& b) {
    auto m = Model::LoadBuffer(b.data(), b.size(), true);
    return m.ok() ? std::string() : std::string(m.status().message());
  };
  EXPECT_NE(message(TunedModel(2)).find("tuning: cache entry 2 outside [-1, 2)"), std::string::npos)
      << message(TunedModel(2));
  EXPECT_NE(message(TunedModel(0, false)).find("tuning: cache entry 0 outside [-1, 0)"), std::string::npos);
  EXPECT_NE(message(TunedModel(-2)).find("tuning: cache entry -2"), std::string::npos);
  // Out-of-range fields.
  ModelWriter w;
  testing::BuildDit(SmallDit(), &w);
  TuningInfo t;
  t.weights = 3;
  w.SetTuning(t);
  std::vector<uint8_t> b;
  ASSERT_TRUE(w.Finish(&b).ok());
  EXPECT_NE(message(b).find("tuning: weights 3"), std::string::npos) << message(b);
  ModelWriter w2;
  testing::BuildDit(SmallDit(), &w2);
  t = TuningInfo();
  t.predicted_speedup = NAN;
  w2.SetTuning(t);
  ASSERT_TRUE(w2.Finish(&b).ok());
  EXPECT_NE(message(b).find("tuning: target, PSNR or predicted speed-up"), std::string::npos) << message(b);
}

}  // namespace
}  // namespace edge
