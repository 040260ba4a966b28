// Shared by the unit tests: aligned scratch, error norms, models
// built with the writer, and whole-model runs.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/model.h"
#include "runtime/pipeline.h"
#include "runtime/session.h"
#include "runtime/writer/model_writer.h"
#include "runtime/writer/dit_builder.h"

namespace edge {
namespace test_util {

// `bytes` of zeroed storage starting on a 64-byte boundary.
class AlignedBuffer {
 public:
  explicit AlignedBuffer(size_t bytes) : storage_(bytes + 64, 0) {}
  void* data() {
    const uintptr_t p = reinterpret_cast<uintptr_t>(storage_.data());
    return reinterpret_cast<void*>((p + 63) & ~uintptr_t(63));
  }

 private:
  std::vector<uint8_t> storage_;
};

// |ref - got|_2 / |ref|_2 in double.
inline double RelL2(const std::vector<float>& ref, const std::vector<float>& got) {
  double num = 0, den = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double d = double(ref[i]) - got[i];
    num += d * d;
    den += double(ref[i]) * ref[i];
  }
  return std::sqrt(num / std::max(den, 1e-300));
}

// max |ref - got| / max |ref|.
inline double RelMax(const std::vector<float>& ref, const std::vector<float>& got) {
  double mx = 0, err = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    mx = std::max(mx, std::fabs(double(ref[i])));
    err = std::max(err, std::fabs(double(ref[i]) - got[i]));
  }
  return err / std::max(mx, 1e-12);
}

// Whether two float vectors hold the same bits (NaNs included).
inline bool SameBits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// Finishes and loads a model (the model owns a copy of the bytes).
inline std::unique_ptr<Model> LoadModel(const ModelWriter& w) {
  std::vector<uint8_t> bytes;
  Status s = w.Finish(&bytes);
  EXPECT_TRUE(s.ok()) << s.message();
  if (!s.ok()) return nullptr;
  auto m = Model::LoadBuffer(bytes.data(), bytes.size(), /*copy=*/true);
  EXPECT_TRUE(m.ok()) << m.status().message();
  return m.ok() ? std::move(m.value()) : nullptr;
}

// A small DiT (tests/support/dit_builder) with a pipeline.
inline testing::DitConfig SmallDitConfig(int image_size = 8) {
  testing::DitConfig cfg;
  cfg.depth = 2;
  cfg.hidden = 64;
  cfg.heads = 2;
  cfg.image_size = image_size;
  return cfg;
}

inline std::unique_ptr<Model> BuildDitModel(const testing::DitConfig& cfg) {
  ModelWriter w;
  testing::BuildDit(cfg, &w);
  return LoadModel(w);
}

// Seeded inputs for one forward pass of a model built by BuildDit: the
// latent and timestep from a fixed sequence, class ids in range.
inline std::vector<std::vector<uint8_t>> DitInputs(const Model& m, uint32_t seed = 5) {
  std::vector<std::vector<uint8_t>> in;
  uint32_t state = seed * 2654435761u + 1;
  for (int t : m.inputs()) {
    const TensorInfo& info = m.tensor(t);
    std::vector<uint8_t> bytes(info.bytes, 0);
    if (info.dtype == fb::DType::F32) {
      float* f = reinterpret_cast<float*>(bytes.data());
      for (size_t i = 0; i < bytes.size() / 4; ++i) {
        state = state * 1664525u + 1013904223u;
        f[i] = static_cast<float>(state >> 8) / 16777216.f * 2.f - 1.f;
      }
    } else if (info.dtype == fb::DType::I32 || info.dtype == fb::DType::I64) {
      const size_t w = info.dtype == fb::DType::I32 ? 4 : 8;
      for (size_t i = 0; i < bytes.size() / w; ++i) bytes[i * w] = static_cast<uint8_t>(i % 3);
    }
    in.push_back(std::move(bytes));
  }
  return in;
}

// Sets every graph input of `s` from `in` (in the model's input order).
inline void SetInputs(Session* s, const std::vector<std::vector<uint8_t>>& in) {
  const Model& m = s->model();
  for (size_t i = 0; i < in.size(); ++i) {
    Status st = s->SetInput(m.inputs()[i], in[i].data(), in[i].size());
    ASSERT_TRUE(st.ok()) << st.message();
  }
}

// One Invoke of a fresh session with `options` on `in`; returns output 0.
inline std::vector<float> RunOnce(const Model& m, const SessionOptions& options,
                                  const std::vector<std::vector<uint8_t>>& in,
                                  std::string* kernels = nullptr) {
  auto s = Session::Create(&m, options);
  EXPECT_TRUE(s.ok()) << s.status().message();
  if (!s.ok()) return {};
  SetInputs(s->get(), in);
  Status st = (*s)->Invoke();
  EXPECT_TRUE(st.ok()) << st.message();
  if (kernels != nullptr) {
    kernels->clear();
    for (int i = 0; i < m.num_nodes(); ++i) *kernels += std::string((*s)->kernel_name(i)) + " ";
  }
  const int out = m.outputs()[0];
  const float* p = static_cast<const float*>((*s)->data(out));
  return std::vector<float>(p, p + m.tensor(out).num_elements);
}

// A whole generation through the Pipeline API with a fresh session.
inline std::vector<float> Generate(const Model& m, const SessionOptions& options,
                                   const GenerateOptions& g, GenerateStats* stats = nullptr) {
  auto s = Session::Create(&m, options);
  EXPECT_TRUE(s.ok()) << s.status().message();
  if (!s.ok()) return {};
  auto p = Pipeline::Create(s->get());
  EXPECT_TRUE(p.ok()) << p.status().message();
  if (!p.ok()) return {};
  std::vector<float> out(static_cast<size_t>(g.num_samples) * (*p)->latent_elements());
  Status st = (*p)->Generate(g, out.data());
  EXPECT_TRUE(st.ok()) << st.message();
  if (stats != nullptr) {
    // The counters; the per-step records are Arrays (not copyable) and stay
    // with the pipeline.
    const GenerateStats& ps = (*p)->stats();
    stats->graph_runs = ps.graph_runs;
    stats->total_ms = ps.total_ms;
    stats->blocks_computed = ps.blocks_computed;
    stats->blocks_skipped = ps.blocks_skipped;
    stats->cache_bytes = ps.cache_bytes;
    stats->guidance_reuse = ps.guidance_reuse;
    stats->uncond_runs = ps.uncond_runs;
    stats->uncond_reused = ps.uncond_reused;
  }
  return out;
}

}  // namespace test_util
}  // namespace edge
