// ModelWriter: builds edge model files. Used by tests and by edge-convert;
// the runtime core does not depend on it.
//
// Output is deterministic (same calls -> same bytes): buffers are laid out in
// the order they were added, each at a 64-byte aligned offset of the data
// segment that follows the size-prefixed FlatBuffer (see schema/edge_model.fbs).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "runtime/status.h"
#include "schema/edge_model_generated.h"

namespace edge {

// Every option any op can carry; AddOp() copies the fields that belong to the
// op type into its typed option table and ignores the rest.
struct OpAttrs {
  fb::Activation activation = fb::Activation::None;  // Linear, GroupNorm
  bool transpose_b = false;                           // MatMul
  float epsilon = 1e-5f;                              // LayerNorm, RMSNorm, GroupNorm
  bool approximate_tanh = false;                      // Gelu
  int axis = -1;                                      // Softmax, Concat, Split
  std::vector<int> perm;                              // Transpose
  std::vector<int64_t> starts, steps;                 // Slice (per input axis)
  // Conv2d
  int kernel_h = 1, kernel_w = 1, stride_h = 1, stride_w = 1;
  int pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  int dilation_h = 1, dilation_w = 1, groups = 1;  // groups: also GroupNorm
  // TimestepEmbedding
  int dim = 0;
  float max_period = 10000.f;
  bool cos_first = true;
  float downscale_freq_shift = 0.f;
  float t_scale = 1.f;
  // Attention, RoPE
  int num_heads = 1;
  float scale = 0.f;  // Attention: 0 means 1/sqrt(head_dim)
  fb::TensorLayout layout = fb::TensorLayout::BSHD;
  float sparse_density = 0.f;
  fb::AttentionPrecision attention_precision = fb::AttentionPrecision::FP32;
  int8_t sparse_mode = 0;        // Attention: 1 = cluster-sparse by default
  float sparse_err_tol = -1.f;   // Attention, clusters: < 0 runtime default
  float token_reuse = 0.f;       // Attention: default token-reuse threshold (0 off)
  bool interleaved = false;
  // Unary
  fb::UnaryKind unary = fb::UnaryKind::Sigmoid;
};

struct PipelineInfo {
  fb::Sampler sampler = fb::Sampler::FlowEuler;
  fb::Prediction prediction = fb::Prediction::Velocity;
  int train_steps = 1000;
  int default_steps = 20;
  float shift = 1.f;
  float guidance_scale = 1.f;
  std::vector<int64_t> latent_shape;
  int latent_input = -1, timestep_input = -1, condition_input = -1, output = -1;
  float timestep_scale = 1000.f;
  int num_classes = 0;
  int64_t null_condition = -1;
  fb::BetaSchedule beta_schedule = fb::BetaSchedule::Linear;
  float beta_start = 1e-4f, beta_end = 0.02f;
  fb::OutputKind output_kind = fb::OutputKind::Pixels;
  int guidance_reuse_interval = 0, guidance_reuse_warmup = 2, guidance_reuse_order = 1;
  int decode_tile_overlap = 2;  // latent rows/columns neighbouring decoder tiles share
  int null_condition_tensor = -1;  // embedding-conditioned models: the unconditional embedding
};

// Step-cache calibration (schema CacheCalibration).
struct CachePolicyCalibrationInfo {
  int policy = 1;
  float target_psnr = 0.f, threshold = 0.f, psnr = 0.f, skip_fraction = 0.f;
  std::vector<float> block_thresholds;
  int max_skips = -1;
};
struct CacheCalibrationInfo {
  int steps = 0;
  std::vector<CachePolicyCalibrationInfo> policies;
  std::vector<float> tea_poly, mag_ratios;
};

// Defaults chosen by edge-convert --target-psnr (schema Tuning).
struct TuningInfo {
  float target_psnr = 0.f, calib_psnr = 0.f, holdout_psnr = -1.f, predicted_speedup = 1.f;
  int weights = 0, attention_precision = 0, attention_sparse = 0;
  int cache_entry = -1;
  float token_reuse = 0.f;  // index into the cache calibration's entries
};

class ModelWriter {
 public:
  // Activation tensor (planned by the runtime).
  int AddActivation(const std::string& name, const std::vector<int64_t>& shape,
                    fb::DType dtype = fb::DType::F32);
  // Constant tensor with raw little-endian data of exactly StorageBytes() bytes.
  int AddConstant(const std::string& name, const std::vector<int64_t>& shape, fb::DType dtype,
                  const void* data, size_t bytes);
  int AddConstantF32(const std::string& name, const std::vector<int64_t>& shape,
                     const std::vector<float>& values);
  // F32 Linear weight [N, K] given row-major, stored in the GEMM's own
  // layout (WeightLayout PackedF32N16), which the runtime reads in place.
  int AddConstantF32Packed(const std::string& name, const std::vector<int64_t>& shape,
                           const std::vector<float>& values);
  // INT8 weight [N, K] (or packed per `layout`), symmetric per-channel scales[N].
  int AddInt8PerChannel(const std::string& name, const std::vector<int64_t>& shape,
                        const void* q, size_t q_bytes, const std::vector<float>& scales,
                        fb::WeightLayout layout = fb::WeightLayout::RowMajor);
  // NVFP4 weight [N, K]: packed E2M1 codes, E4M3 block scales (one byte per 16
  // along K), FP32 tensor scale.
  int AddNvfp4(const std::string& name, const std::vector<int64_t>& shape, const void* codes,
               size_t code_bytes, const void* block_scales, size_t scale_bytes,
               float tensor_scale, fb::WeightLayout layout = fb::WeightLayout::RowMajor);

  // Returns the op index. Inputs may contain -1 for absent optional inputs.
  int AddOp(fb::OpType type, const std::vector<int>& inputs, const std::vector<int>& outputs,
            const OpAttrs& attrs = OpAttrs(), const std::string& name = "");

  void SetInputs(const std::vector<int>& tensors) { G().inputs = tensors; }
  void SetOutputs(const std::vector<int>& tensors) { G().outputs = tensors; }

  // Several graphs in one file (format 2). Tensors, ops, inputs, outputs and
  // cache regions go to the current graph: graph 0 (the main graph, the
  // denoiser) until AddGraph() starts another and makes it current. All
  // graphs share the buffers, and a buffer whose bytes equal an earlier
  // one's is stored once (tied weights). Returns the new graph's index.
  int AddGraph(const std::string& name);
  void SelectGraph(int index) { cur_ = static_cast<size_t>(index); }
  int num_graphs() const { return static_cast<int>(graphs_.size()); }
  // Feeds graph from_graph's tensor from_tensor (a graph output, or graph
  // 0's pipeline latent input: the sampled latent) into to_graph's input.
  void AddLink(int from_graph, int from_tensor, int to_graph, int to_tensor) {
    links_.push_back({from_graph, from_tensor, to_graph, to_tensor});
  }
  void AddCacheRegion(const std::string& name, int first_op, int last_op, int input, int output);
  void SetPipeline(const PipelineInfo& pipeline) { pipeline_ = pipeline; has_pipeline_ = true; }
  const PipelineInfo* pipeline() const { return has_pipeline_ ? &pipeline_ : nullptr; }
  void SetCacheCalibration(const CacheCalibrationInfo& c) { cache_calib_ = c; has_cache_calib_ = true; }
  void SetTuning(const TuningInfo& t) { tuning_ = t; has_tuning_ = true; }
  void SetName(const std::string& name) { name_ = name; }
  void SetProducer(const std::string& producer) { producer_ = producer; }
  // For tests of the loader: write this version number instead of the current one.
  void SetFormatVersionForTesting(uint32_t v) { format_version_ = v; }

  int num_tensors() const { return static_cast<int>(G().tensors.size()); }
  int num_ops() const { return static_cast<int>(G().ops.size()); }

  // Serializes the whole file (FlatBuffer + aligned data segment).
  Status Finish(std::vector<uint8_t>* out) const;
  // Finish() then write to `path` through a temporary file and rename, so a
  // failure never leaves a partial file behind.
  Status WriteFile(const std::string& path) const;

 private:
  struct TensorRec {
    std::string name;
    std::vector<int64_t> shape;
    fb::DType dtype;
    int buffer = -1;
    fb::QuantScheme quant = fb::QuantScheme::None;
    int scale_buffer = -1;
    float tensor_scale = 1.f;
    fb::WeightLayout layout = fb::WeightLayout::RowMajor;
  };
  struct OpRec {
    fb::OpType type;
    std::vector<int> inputs, outputs;
    OpAttrs attrs;
    std::string name;
  };
  struct RegionRec {
    std::string name;
    int first_op, last_op, input, output;
  };
  struct GraphRec {
    std::string name;
    std::vector<TensorRec> tensors;
    std::vector<OpRec> ops;
    std::vector<int> inputs, outputs;
    std::vector<RegionRec> regions;
  };
  struct LinkRec {
    int from_graph, from_tensor, to_graph, to_tensor;
  };
  int AddBuffer(const void* data, size_t bytes);
  int AddTensor(TensorRec t);
  GraphRec& G() { return graphs_[cur_]; }
  const GraphRec& G() const { return graphs_[cur_]; }

  std::vector<GraphRec> graphs_ = std::vector<GraphRec>(1);
  size_t cur_ = 0;
  std::vector<LinkRec> links_;
  std::vector<std::vector<uint8_t>> buffers_;
  std::multimap<uint64_t, int> buffer_index_;  // content hash -> buffer
  PipelineInfo pipeline_;
  bool has_pipeline_ = false;
  CacheCalibrationInfo cache_calib_;
  bool has_cache_calib_ = false;
  TuningInfo tuning_;
  bool has_tuning_ = false;
  std::string name_, producer_ = "edge";
  int64_t format_version_ = -1;  // -1: by the number of graphs
};

}  // namespace edge
