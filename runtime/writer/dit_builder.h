// Builds a DiT (adaLN-Zero, patch embedding, class + timestep conditioning)
// with the ModelWriter and seeded random weights. Used by the end-to-end
// tests (against a PyTorch oracle that reads the same weights), the memory
// planner check at DiT-B/2 size, and the benchmarks. Part of the host-side
// writer library (never in the runtime core), so that the tests, the fixture
// tool and edge-bench share it without edge-bench compiling test sources.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/writer/model_writer.h"

namespace edge {
namespace testing {

// Storage of the Linear weights (the oracle always gets the FP32 values).
// kF32 is row-major (packed at load); kF32Packed is WeightLayout PackedF32N16,
// as edge-convert writes by default (read in place).
enum class LinearWeights : int { kF32 = 0, kInt8 = 1, kNvfp4 = 2, kF32Packed = 3 };

struct DitConfig {
  int batch = 2;
  int in_channels = 4;
  int image_size = 16;     // H = W
  int patch = 2;
  int hidden = 128;
  int depth = 4;
  int heads = 4;
  int mlp_ratio = 4;
  int num_classes = 10;    // + 1 null class for guidance
  int freq_dim = 256;      // sinusoidal timestep embedding width
  bool learn_sigma = false;
  uint64_t seed = 1;
  float weight_std = 0.05f;
  bool with_pipeline = true;
  float token_reuse = 0.f;  // stored default token-reuse threshold of every Attention op
  LinearWeights linear_weights = LinearWeights::kF32;  // FP32 row-major / packed, INT8, NVFP4
};

struct NamedWeight {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> values;
};

// Adds the whole model to `w`; returns every weight (for an oracle).
std::vector<NamedWeight> BuildDit(const DitConfig& cfg, ModelWriter* w);

// DiT-B/2 at 1024 tokens (64x64 latent with patch 2, 12 blocks, D=768).
DitConfig DitB2Config();

}  // namespace testing
}  // namespace edge
