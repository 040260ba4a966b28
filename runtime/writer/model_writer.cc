// ModelWriter: records tensors/ops/buffers, then serializes them in one go.
//
// Determinism: the FlatBuffer is built bottom-up in a fixed order (tensors,
// ops, regions, pipeline, then the model's own fields) with force_defaults
// off, and buffers are laid out in the order they were added, so the same
// calls always give the same bytes.
//
// The writer checks only what it must to lay out constants (their buffers
// match their shape); everything else is the loader's job, which lets tests
// write deliberately broken graphs with it.
#include "runtime/writer/model_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "flatbuffers/flatbuffers.h"
#include "ops/quant_format.h"
#include "runtime/model.h"
#include "runtime/model_validate.h"
#include "runtime/op_traits.h"
#include "runtime/weight_format.h"

namespace edge {
namespace {

uint64_t AlignUp(uint64_t v) {
  return (v + kDataAlignment - 1) & ~uint64_t(kDataAlignment - 1);
}

// The option table an op takes comes from its traits row; an op type
// outside the schema (tests write such files on purpose) gets none.
flatbuffers::Offset<void> BuildOptions(flatbuffers::FlatBufferBuilder& b, fb::OpType type,
                                       const OpAttrs& a, fb::OpOptions* kind) {
  const OpTraits* traits = FindOpTraits(type);
  *kind = traits != nullptr ? traits->options : fb::OpOptions::NONE;
  using O = fb::OpOptions;
  switch (*kind) {
    case O::LinearOptions:
      return fb::CreateLinearOptions(b, a.activation).Union();
    case O::MatMulOptions:
      return fb::CreateMatMulOptions(b, a.transpose_b).Union();
    case O::NormOptions:
      return fb::CreateNormOptions(b, a.epsilon).Union();
    case O::GeluOptions:
      return fb::CreateGeluOptions(b, a.approximate_tanh).Union();
    case O::AxisOptions:
      return fb::CreateAxisOptions(b, a.axis).Union();
    case O::TransposeOptions: {
      auto perm = b.CreateVector(a.perm);
      return fb::CreateTransposeOptions(b, perm).Union();
    }
    case O::SliceOptions: {
      auto starts = b.CreateVector(a.starts);
      auto steps = b.CreateVector(a.steps);
      return fb::CreateSliceOptions(b, starts, steps).Union();
    }
    case O::ConvOptions:
      return fb::CreateConvOptions(b, a.kernel_h, a.kernel_w, a.stride_h, a.stride_w, a.pad_top,
                                   a.pad_left, a.pad_bottom, a.pad_right, a.dilation_h,
                                   a.dilation_w, a.groups)
          .Union();
    case O::TimestepEmbeddingOptions:
      return fb::CreateTimestepEmbeddingOptions(b, a.dim, a.max_period, a.cos_first,
                                                a.downscale_freq_shift, a.t_scale)
          .Union();
    case O::AttentionOptions:
      // scale 0 means 1/sqrt(head_dim); the runtime resolves it.
      return fb::CreateAttentionOptions(b, a.num_heads, a.scale, a.layout, a.sparse_density,
                                        a.attention_precision, a.sparse_mode, a.sparse_err_tol,
                                        a.token_reuse)
          .Union();
    case O::RopeOptions:
      return fb::CreateRopeOptions(b, a.num_heads, a.layout, a.interleaved).Union();
    case O::UnaryOptions:
      return fb::CreateUnaryOptions(b, a.unary).Union();
    case O::GroupNormOptions:
      return fb::CreateGroupNormOptions(b, a.groups, a.epsilon, a.activation).Union();
    case O::NONE:
      break;
  }
  return 0;
}

}  // namespace

int ModelWriter::AddBuffer(const void* data, size_t bytes) {
  const uint8_t* p = static_cast<const uint8_t*>(data);
  if (!p) bytes = 0;
  // FNV-1a over the bytes; equal contents share one buffer.
  uint64_t h = 1469598103934665603ull ^ bytes;
  for (size_t i = 0; i < bytes; ++i) h = (h ^ p[i]) * 1099511628211ull;
  auto range = buffer_index_.equal_range(h);
  for (auto it = range.first; it != range.second; ++it) {
    const std::vector<uint8_t>& have = buffers_[static_cast<size_t>(it->second)];
    if (have.size() == bytes && (bytes == 0 || std::memcmp(have.data(), p, bytes) == 0)) return it->second;
  }
  buffers_.emplace_back(p, p + bytes);
  const int index = static_cast<int>(buffers_.size()) - 1;
  buffer_index_.emplace(h, index);
  return index;
}

int ModelWriter::AddTensor(TensorRec t) {
  G().tensors.push_back(std::move(t));
  return static_cast<int>(G().tensors.size()) - 1;
}

int ModelWriter::AddGraph(const std::string& name) {
  graphs_.emplace_back();
  graphs_.back().name = name;
  cur_ = graphs_.size() - 1;
  return static_cast<int>(cur_);
}

int ModelWriter::AddActivation(const std::string& name, const std::vector<int64_t>& shape,
                               fb::DType dtype) {
  TensorRec t;
  t.name = name;
  t.shape = shape;
  t.dtype = dtype;
  return AddTensor(std::move(t));
}

int ModelWriter::AddConstant(const std::string& name, const std::vector<int64_t>& shape,
                             fb::DType dtype, const void* data, size_t bytes) {
  TensorRec t;
  t.name = name;
  t.shape = shape;
  t.dtype = dtype;
  t.buffer = AddBuffer(data, bytes);
  return AddTensor(std::move(t));
}

int ModelWriter::AddConstantF32(const std::string& name, const std::vector<int64_t>& shape,
                                const std::vector<float>& values) {
  return AddConstant(name, shape, fb::DType::F32, values.data(), values.size() * sizeof(float));
}

int ModelWriter::AddConstantF32Packed(const std::string& name, const std::vector<int64_t>& shape,
                                      const std::vector<float>& values) {
  const QuantFormatTraits& f = QuantFormatOf(QuantFormat::kF32);
  std::vector<uint8_t> packed;
  // A shape that is not [N, K] matching `values` gets no bytes: Finish()
  // then names the tensor.
  if (shape.size() == 2 && shape[0] >= 0 && shape[1] >= 0 &&
      static_cast<uint64_t>(shape[0]) * static_cast<uint64_t>(shape[1]) == values.size()) {
    const size_t n = static_cast<size_t>(shape[0]), k = static_cast<size_t>(shape[1]);
    packed.resize(QuantPackedBytes(f, n, k));
    f.pack(reinterpret_cast<const uint8_t*>(values.data()), nullptr, n, k, packed.data(), nullptr);
  }
  TensorRec t;
  t.name = name;
  t.shape = shape;
  t.dtype = fb::DType::F32;
  t.buffer = AddBuffer(packed.data(), packed.size());
  t.layout = PackedLayoutOf(f);
  return AddTensor(std::move(t));
}

int ModelWriter::AddInt8PerChannel(const std::string& name, const std::vector<int64_t>& shape,
                                   const void* q, size_t q_bytes,
                                   const std::vector<float>& scales, fb::WeightLayout layout) {
  TensorRec t;
  t.name = name;
  t.shape = shape;
  t.dtype = fb::DType::I8;
  t.buffer = AddBuffer(q, q_bytes);
  t.quant = fb::QuantScheme::Int8PerChannel;
  t.scale_buffer = AddBuffer(scales.data(), scales.size() * sizeof(float));
  t.layout = layout;
  return AddTensor(std::move(t));
}

int ModelWriter::AddNvfp4(const std::string& name, const std::vector<int64_t>& shape,
                          const void* codes, size_t code_bytes, const void* block_scales,
                          size_t scale_bytes, float tensor_scale, fb::WeightLayout layout) {
  TensorRec t;
  t.name = name;
  t.shape = shape;
  t.dtype = fb::DType::NVFP4;
  t.buffer = AddBuffer(codes, code_bytes);
  t.quant = fb::QuantScheme::NVFP4;
  t.scale_buffer = AddBuffer(block_scales, scale_bytes);
  t.tensor_scale = tensor_scale;
  t.layout = layout;
  return AddTensor(std::move(t));
}

int ModelWriter::AddOp(fb::OpType type, const std::vector<int>& inputs,
                       const std::vector<int>& outputs, const OpAttrs& attrs,
                       const std::string& name) {
  OpRec op;
  op.type = type;
  op.inputs = inputs;
  op.outputs = outputs;
  op.attrs = attrs;
  op.name = name;
  G().ops.push_back(std::move(op));
  return static_cast<int>(G().ops.size()) - 1;
}

void ModelWriter::AddCacheRegion(const std::string& name, int first_op, int last_op, int input,
                                 int output) {
  G().regions.push_back({name, first_op, last_op, input, output});
}

// A graph's tables: tensors, ops, inputs, outputs, cache regions.
struct GraphOffsets {
  flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<fb::Tensor>>> tensors;
  flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<fb::Operator>>> ops;
  flatbuffers::Offset<flatbuffers::Vector<int32_t>> inputs, outputs;
  flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<fb::CacheRegion>>> regions;
};

Status ModelWriter::Finish(std::vector<uint8_t>* out) const {
  if (!out) return Status::Error(StatusCode::kInvalidArgument, "null output");
  // Constants must fill their buffers exactly; the loader would reject them
  // anyway, but here the error points at the caller.
  // Quantized tensors are written with the NVFP4 block (Int8PerChannel
  // ignores it; it is also the schema default, so it costs no bytes).
  const int quant_block = static_cast<int>(QuantFormatOf(QuantFormat::kNvfp4).scale_block);
  for (const GraphRec& g : graphs_) {
    for (size_t i = 0; i < g.tensors.size(); ++i) {
      const TensorRec& t = g.tensors[i];
      if (t.buffer < 0) continue;
      size_t want = 0;
      const int rank = static_cast<int>(t.shape.size());
      if (rank > kMaxRank || !ConstantStorageBytes(t.dtype, t.layout, t.shape.data(), rank, &want)) {
        return Status::Error(StatusCode::kInvalidArgument,
                             "tensor %zu '%s': invalid shape/dtype/layout for a constant", i, t.name.c_str());
      }
      if (buffers_[static_cast<size_t>(t.buffer)].size() != want) {
        return Status::Error(StatusCode::kInvalidArgument, "tensor %zu '%s': %zu data bytes given, shape needs %zu",
                             i, t.name.c_str(), buffers_[static_cast<size_t>(t.buffer)].size(), want);
      }
      if (t.quant != fb::QuantScheme::None) {
        if (!QuantScaleBytes(t.quant, t.layout, t.shape.data(), rank, quant_block, &want) ||
            buffers_[static_cast<size_t>(t.scale_buffer)].size() != want) {
          return Status::Error(StatusCode::kInvalidArgument, "tensor %zu '%s': %zu scale bytes given, shape needs %zu",
                               i, t.name.c_str(), buffers_[static_cast<size_t>(t.scale_buffer)].size(), want);
        }
      }
    }
  }

  flatbuffers::FlatBufferBuilder b(1024);
  b.ForceDefaults(false);
  auto opt_string = [&b](const std::string& s) {
    return s.empty() ? flatbuffers::Offset<flatbuffers::String>() : b.CreateString(s);
  };

  auto build_graph = [&](const GraphRec& g) {
    std::vector<flatbuffers::Offset<fb::Tensor>> tensors;
    tensors.reserve(g.tensors.size());
    for (const TensorRec& t : g.tensors) {
      auto name = opt_string(t.name);
      auto shape = b.CreateVector(t.shape);
      flatbuffers::Offset<fb::Quantization> quant;
      if (t.quant != fb::QuantScheme::None) {
        quant = fb::CreateQuantization(b, t.quant, t.scale_buffer, t.tensor_scale, quant_block);
      }
      tensors.push_back(fb::CreateTensor(b, name, shape, t.dtype, t.buffer, quant, t.layout));
    }
    std::vector<flatbuffers::Offset<fb::Operator>> ops;
    ops.reserve(g.ops.size());
    for (const OpRec& op : g.ops) {
      auto inputs = b.CreateVector(op.inputs);
      auto outputs = b.CreateVector(op.outputs);
      fb::OpOptions kind = fb::OpOptions::NONE;
      auto options = BuildOptions(b, op.type, op.attrs, &kind);
      auto name = opt_string(op.name);
      ops.push_back(fb::CreateOperator(b, op.type, inputs, outputs, kind, options, name));
    }
    std::vector<flatbuffers::Offset<fb::CacheRegion>> regions;
    for (const RegionRec& r : g.regions) {
      auto name = opt_string(r.name);
      regions.push_back(fb::CreateCacheRegion(b, name, r.first_op, r.last_op, r.input, r.output));
    }
    GraphOffsets o;
    o.tensors = b.CreateVector(tensors);
    o.ops = b.CreateVector(ops);
    o.inputs = b.CreateVector(g.inputs);
    o.outputs = b.CreateVector(g.outputs);
    if (!regions.empty()) o.regions = b.CreateVector(regions);
    return o;
  };

  const GraphOffsets main = build_graph(graphs_[0]);
  std::vector<flatbuffers::Offset<fb::Graph>> extra;
  for (size_t g = 1; g < graphs_.size(); ++g) {
    const GraphOffsets o = build_graph(graphs_[g]);
    auto name = opt_string(graphs_[g].name);
    extra.push_back(fb::CreateGraph(b, name, o.tensors, o.ops, o.inputs, o.outputs, o.regions));
  }
  std::vector<flatbuffers::Offset<fb::GraphLink>> links;
  for (const LinkRec& l : links_) {
    links.push_back(fb::CreateGraphLink(b, l.from_graph, l.from_tensor, l.to_graph, l.to_tensor));
  }

  flatbuffers::Offset<fb::Pipeline> pipeline;
  if (has_pipeline_) {
    const PipelineInfo& p = pipeline_;
    auto latent = b.CreateVector(p.latent_shape);
    pipeline = fb::CreatePipeline(b, p.sampler, p.prediction, p.train_steps, p.default_steps,
                                  p.shift, p.guidance_scale, latent, p.latent_input,
                                  p.timestep_input, p.condition_input, p.output,
                                  p.timestep_scale, p.num_classes, p.null_condition,
                                  p.beta_schedule, p.beta_start, p.beta_end, p.output_kind,
                                  p.guidance_reuse_interval, p.guidance_reuse_warmup,
                                  p.guidance_reuse_order, p.decode_tile_overlap, p.null_condition_tensor);
  }

  flatbuffers::Offset<fb::CacheCalibration> cache_calib;
  if (has_cache_calib_) {
    std::vector<flatbuffers::Offset<fb::CachePolicyCalibration>> entries;
    for (const CachePolicyCalibrationInfo& e : cache_calib_.policies) {
      auto blocks = e.block_thresholds.empty() ? 0 : b.CreateVector(e.block_thresholds);
      entries.push_back(fb::CreateCachePolicyCalibration(b, static_cast<int8_t>(e.policy), e.target_psnr,
                                                         e.threshold, blocks, e.psnr, e.skip_fraction,
                                                         e.max_skips));
    }
    auto entries_vec = b.CreateVector(entries);
    auto poly = cache_calib_.tea_poly.empty() ? 0 : b.CreateVector(cache_calib_.tea_poly);
    auto mag = cache_calib_.mag_ratios.empty() ? 0 : b.CreateVector(cache_calib_.mag_ratios);
    cache_calib = fb::CreateCacheCalibration(b, cache_calib_.steps, entries_vec, poly, mag);
  }

  flatbuffers::Offset<fb::Tuning> tuning;
  if (has_tuning_) {
    const TuningInfo& t = tuning_;
    tuning = fb::CreateTuning(b, t.target_psnr, t.calib_psnr, t.holdout_psnr, t.predicted_speedup,
                              static_cast<int8_t>(t.weights), static_cast<int8_t>(t.attention_precision),
                              static_cast<int8_t>(t.attention_sparse), t.cache_entry, t.token_reuse);
  }

  // Buffers in the order added, each at the next 64-byte boundary.
  std::vector<fb::Buffer> buffer_table;
  buffer_table.reserve(buffers_.size());
  uint64_t cursor = 0;
  for (const auto& buf : buffers_) {
    cursor = AlignUp(cursor);
    buffer_table.emplace_back(cursor, buf.size());
    cursor += buf.size();
  }

  auto producer = opt_string(producer_);
  auto name = opt_string(name_);
  auto buffers_vec = b.CreateVectorOfStructs(buffer_table);
  auto graphs_vec = extra.empty() ? 0 : b.CreateVector(extra);
  auto links_vec = links.empty() ? 0 : b.CreateVector(links);
  // One graph: version 1, which older runtimes read too.
  const uint32_t version = format_version_ >= 0 ? static_cast<uint32_t>(format_version_)
                           : graphs_.size() > 1 || !links_.empty() ? kFormatVersion
                                                                   : kSingleGraphFormatVersion;
  auto root = fb::CreateModel(b, version, producer, name, main.tensors, main.ops, main.inputs,
                              main.outputs, buffers_vec, main.regions, pipeline, cache_calib, tuning,
                              graphs_vec, links_vec);
  fb::FinishSizePrefixedModelBuffer(b, root);

  const uint64_t fb_bytes = b.GetSize();  // includes the u32 size prefix
  const uint64_t data_start = AlignUp(fb_bytes);
  // No padding after the last buffer: every byte of the file is needed, so
  // any truncation is detected.
  const uint64_t total = data_start + cursor;
  out->assign(static_cast<size_t>(total), 0);
  std::memcpy(out->data(), b.GetBufferPointer(), static_cast<size_t>(fb_bytes));
  for (size_t i = 0; i < buffers_.size(); ++i) {
    if (buffers_[i].empty()) continue;
    std::memcpy(out->data() + data_start + buffer_table[i].offset(), buffers_[i].data(),
                buffers_[i].size());
  }
  return Status::Ok();
}

Status ModelWriter::WriteFile(const std::string& path) const {
  std::vector<uint8_t> bytes;
  EDGE_RETURN_IF_ERROR(Finish(&bytes));
  const std::string tmp = path + ".tmp." + std::to_string(static_cast<long>(::getpid()));
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Status::Error(StatusCode::kIoError, "cannot create '%s': %s", tmp.c_str(),
                         std::strerror(errno));
  }
  size_t done = 0;
  Status status;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      status = Status::Error(StatusCode::kIoError, "write '%s': %s", tmp.c_str(),
                             std::strerror(errno));
      break;
    }
    done += static_cast<size_t>(n);
  }
  if (status.ok() && ::fsync(fd) != 0) {
    status = Status::Error(StatusCode::kIoError, "fsync '%s': %s", tmp.c_str(),
                           std::strerror(errno));
  }
  if (::close(fd) != 0 && status.ok()) {
    status = Status::Error(StatusCode::kIoError, "close '%s': %s", tmp.c_str(),
                           std::strerror(errno));
  }
  if (status.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) {
    status = Status::Error(StatusCode::kIoError, "rename '%s' -> '%s': %s", tmp.c_str(),
                           path.c_str(), std::strerror(errno));
  }
  if (!status.ok()) ::unlink(tmp.c_str());
  return status;
}

}  // namespace edge
