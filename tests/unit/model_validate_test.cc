// One malformed file per rejection branch of runtime/model_validate.cc, each
// checked against its message, and a test that reads the validator's source
// and fails when a rejection branch has no case here or in the loader test
// (tests/unit/model_loader_test.cc) whose message it produces.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "flatbuffers/flatbuffers.h"
#include "runtime/model.h"
#include "runtime/model_validate.h"
#include "runtime/writer/model_writer.h"
#include "tests/unit/model_test_util.h"

namespace edge {
namespace {

using testing_util::LoadBorrowed;
using testing_util::MalformedCase;
using testing_util::Ramp;
using FBB = flatbuffers::FlatBufferBuilder;
using T = fb::OpType;

// A vector whose data starts 4 bytes off an 8-byte boundary. The verifier
// only checks the 4-byte length field, so this is what a hostile file can
// hold for vectors of 8-byte elements. (The builder lays out back to front
// and the finished buffer is a multiple of 8 long, so the data starts at a
// misaligned address iff the builder's size after the data is 4 mod 8.)
template <typename E>
flatbuffers::uoffset_t Misaligned8(FBB& b, const std::vector<E>& v) {
  const size_t bytes = v.size() * sizeof(E);
  b.Align(8);
  if ((b.GetSize() + bytes) % 8 == 0) b.Pad(4);
  b.StartVector(bytes / 4, 4);
  b.PushBytes(reinterpret_cast<const uint8_t*>(v.data()), bytes);
  return b.EndVector(v.size());
}

// ---------------------------------------------------------------------------
// Raw files: every field settable, including what ModelWriter refuses.
struct RawTensor {
  std::string name;
  std::vector<int64_t> shape;
  fb::DType dtype = fb::DType::F32;
  int buffer = -1;
  fb::WeightLayout layout = fb::WeightLayout::RowMajor;
  bool quant = false;  // emit a Quantization table with the fields below
  fb::QuantScheme scheme = fb::QuantScheme::None;
  int scale_buffer = -1;
  float tensor_scale = 1.f;
  int block_size = 16;
  bool misaligned_shape = false;
};

struct RawOp {
  T type;
  std::vector<int> inputs, outputs;
  fb::OpOptions options_type = fb::OpOptions::NONE;
  std::function<flatbuffers::Offset<void>(FBB&)> options;
};

struct RawModel {
  std::vector<RawTensor> tensors;
  std::vector<std::vector<uint8_t>> buffers;  // each at the next 64-byte offset
  bool misaligned_buffers = false;
  std::vector<RawOp> ops;
  // Extra copies of the last op sharing its input vector, copy r writing
  // tensor outputs[0] + r + 1.
  int repeat_last_op = 0;
  std::vector<int> inputs, outputs;
  std::function<flatbuffers::Offset<fb::Pipeline>(FBB&)> pipeline;

  std::vector<uint8_t> Bytes() const {
    FBB b;
    std::vector<flatbuffers::Offset<fb::Tensor>> ts;
    for (const RawTensor& t : tensors) {
      auto name = b.CreateString(t.name);
      flatbuffers::Offset<flatbuffers::Vector<int64_t>> shape =
          t.misaligned_shape ? Misaligned8(b, t.shape) : b.CreateVector(t.shape);
      flatbuffers::Offset<fb::Quantization> q;
      if (t.quant) q = fb::CreateQuantization(b, t.scheme, t.scale_buffer, t.tensor_scale, t.block_size);
      ts.push_back(fb::CreateTensor(b, name, shape, t.dtype, t.buffer, q, t.layout));
    }
    std::vector<flatbuffers::Offset<fb::Operator>> os;
    for (const RawOp& o : ops) {
      auto in = b.CreateVector(o.inputs);
      auto out = b.CreateVector(o.outputs);
      flatbuffers::Offset<void> opt = o.options ? o.options(b) : 0;
      auto op = fb::CreateOperator(b, o.type, in, out, o.options_type, opt);
      os.push_back(op);
      if (&o == &ops.back()) {
        for (int r = 0; r < repeat_last_op; ++r) {
          auto out_r = b.CreateVector(std::vector<int>{o.outputs[0] + r + 1});
          os.push_back(fb::CreateOperator(b, o.type, in, out_r, o.options_type, opt));
        }
      }
    }
    std::vector<fb::Buffer> table;
    std::vector<uint8_t> data;
    for (const auto& buf : buffers) {
      data.resize((data.size() + kDataAlignment - 1) / kDataAlignment * kDataAlignment);
      table.emplace_back(data.size(), buf.size());
      data.insert(data.end(), buf.begin(), buf.end());
    }
    flatbuffers::Offset<flatbuffers::Vector<const fb::Buffer*>> bufs =
        misaligned_buffers ? Misaligned8(b, table) : b.CreateVectorOfStructs(table);
    auto pipe = pipeline ? pipeline(b) : 0;
    auto root = fb::CreateModel(b, kFormatVersion, b.CreateString("raw"), b.CreateString("raw"),
                                b.CreateVector(ts), b.CreateVector(os), b.CreateVector(inputs),
                                b.CreateVector(outputs), bufs, 0, pipe);
    fb::FinishSizePrefixedModelBuffer(b, root);
    std::vector<uint8_t> out(b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize());
    out.resize(DataSegmentOffset(b.GetSize() - 4), 0);
    out.insert(out.end(), data.begin(), data.end());
    return out;
  }
};

std::vector<uint8_t> Bytes(size_t n) { return std::vector<uint8_t>(n, 0); }

// One constant tensor `c` (with its buffer of `bytes` bytes) and a second
// buffer of `scale_bytes` for scales; no ops.
RawModel OneConstant(RawTensor t, size_t bytes, size_t scale_bytes = 0) {
  RawModel m;
  t.name = "c";
  t.buffer = 0;
  m.buffers = {Bytes(bytes)};
  if (scale_bytes) m.buffers.push_back(Bytes(scale_bytes));
  m.tensors = {t};
  return m;
}

RawTensor Tensor(std::vector<int64_t> shape, fb::DType dtype = fb::DType::F32) {
  RawTensor t;
  t.name = "a";
  t.shape = std::move(shape);
  t.dtype = dtype;
  return t;
}

// A tensor with a Quantization table.
RawTensor Quantized(std::vector<int64_t> shape, fb::DType dtype, fb::QuantScheme scheme,
                    int scale_buffer = 1, fb::WeightLayout layout = fb::WeightLayout::RowMajor) {
  RawTensor t = Tensor(std::move(shape), dtype);
  t.quant = true;
  t.scheme = scheme;
  t.scale_buffer = scale_buffer;
  t.layout = layout;
  return t;
}

// ---------------------------------------------------------------------------
// Writer-built files: x[2,8] -> op -> y (graph input x, output y).
enum { kX = 0, kY = 1, kZ = 2, kW = 3 };

struct Small {
  ModelWriter w;
  Small() {
    w.AddActivation("x", {2, 8});
    w.AddActivation("y", {2, 8});
    w.AddActivation("z", {2, 8});
    w.AddConstantF32("W", {8, 8}, Ramp(64));
    w.SetInputs({kX});
  }
  // x -> op(attrs) -> y, as the only op.
  Small& Op(T type, std::vector<int> in, const OpAttrs& a = OpAttrs()) {
    w.AddOp(type, in, {kY}, a, "bad");
    w.SetOutputs({kY});
    return *this;
  }
  std::vector<uint8_t> Bytes() {
    std::vector<uint8_t> out;
    Status s = w.Finish(&out);
    EXPECT_TRUE(s.ok()) << s.message();
    return out;
  }
};

std::vector<uint8_t> WithAttrs(T type, std::vector<int> in,
                               const std::function<void(OpAttrs&)>& edit) {
  OpAttrs a;
  edit(a);
  return Small().Op(type, std::move(in), a).Bytes();
}

std::vector<uint8_t> Attention(const std::function<void(OpAttrs&)>& edit) {
  return WithAttrs(T::Attention, {kX, kX, kX}, [&](OpAttrs& a) {
    a.num_heads = 2;
    edit(a);
  });
}

// x -> Gelu -> y with a pipeline (latent x, output y), edited by `edit`.
std::vector<uint8_t> WithPipeline(const std::function<void(PipelineInfo&)>& edit) {
  Small s;
  OpAttrs a;
  s.Op(T::Gelu, {kX}, a);
  PipelineInfo p;
  p.latent_shape = {1, 2, 8};
  p.latent_input = kX;
  p.output = kY;
  edit(p);
  s.w.SetPipeline(p);
  return s.Bytes();
}

// x -> Gelu -> y -> SiLU -> z, region over both ops, and a cache calibration
// with one valid entry edited by `edit`.
std::vector<uint8_t> Calibrated(const std::function<void(CacheCalibrationInfo&)>& edit,
                                const std::function<void(TuningInfo&)>* tune) {
  Small s;
  s.w.AddOp(T::Gelu, {kX}, {kY}, OpAttrs(), "g");
  s.w.AddOp(T::SiLU, {kY}, {kZ}, OpAttrs(), "s");
  s.w.SetOutputs({kZ});
  s.w.AddCacheRegion("blk", 0, 1, kX, kZ);
  CacheCalibrationInfo c;
  c.steps = 10;
  CachePolicyCalibrationInfo e;
  e.policy = 1;
  e.target_psnr = 30.f;
  e.threshold = 0.1f;
  e.psnr = 31.f;
  e.skip_fraction = 0.3f;
  c.policies = {e};
  c.tea_poly = {1.f, 0.f};
  c.mag_ratios = {1.f, 0.99f};
  edit(c);
  s.w.SetCacheCalibration(c);
  if (tune != nullptr) {
    TuningInfo t;
    t.target_psnr = 30.f;
    t.cache_entry = 0;
    (*tune)(t);
    s.w.SetTuning(t);
  }
  return s.Bytes();
}

std::vector<uint8_t> WithCalibration(const std::function<void(CacheCalibrationInfo&)>& edit) {
  return Calibrated(edit, nullptr);
}

// The calibrated model above (one entry) with tuned defaults edited by `edit`.
std::vector<uint8_t> WithTuning(const std::function<void(TuningInfo&)>& edit) {
  return Calibrated([](CacheCalibrationInfo&) {}, &edit);
}

std::vector<uint8_t> WithRegion(int first, int last, int in, int out, std::vector<int64_t> z_shape = {2, 8}) {
  ModelWriter w;
  w.AddActivation("x", {2, 8});
  w.AddActivation("y", {2, 8});
  w.AddActivation("z", z_shape);
  w.AddOp(T::Gelu, {kX}, {kY}, OpAttrs(), "g");
  w.AddOp(T::SiLU, {kY}, {kZ}, OpAttrs(), "s");
  w.SetInputs({kX});
  w.SetOutputs({kZ});
  w.AddCacheRegion("blk", first, last, in, out);
  std::vector<uint8_t> bytes;
  EXPECT_TRUE(w.Finish(&bytes).ok());
  return bytes;
}

const float kNaN = std::numeric_limits<float>::quiet_NaN();
const float kInf = std::numeric_limits<float>::infinity();

}  // namespace

namespace testing_util {

// The branches the loader test does not reach, one case each.
std::vector<MalformedCase> ValidatorBranchCases() {
  std::vector<MalformedCase> cases;
  auto add = [&](const std::string& what, std::vector<uint8_t> bytes, const std::string& msg) {
    cases.push_back({what, std::move(bytes), msg});
  };
  using Q = fb::QuantScheme;
  using L = fb::WeightLayout;

  // --- alignment of 8-byte element vectors ------------------------------------
  {
    RawModel m;
    m.buffers = {Bytes(32)};
    m.misaligned_buffers = true;
    add("misaligned buffers vector", m.Bytes(), "buffers: vector is not 8-byte aligned");
  }
  {
    RawModel m;
    RawTensor t = Tensor({2, 8});
    t.misaligned_shape = true;
    m.tensors = {t};
    add("misaligned shape vector", m.Bytes(), "tensor 0 'a': shape vector is not 8-byte aligned");
  }
  {
    RawModel m;
    m.tensors = {Tensor({2, 8}), Tensor({2, 8})};
    RawOp op{T::Slice, {0}, {1}, fb::OpOptions::SliceOptions, [](FBB& b) {
               auto starts = Misaligned8<int64_t>(b, {0, 0});
               auto steps = b.CreateVector(std::vector<int64_t>{1, 1});
               return fb::CreateSliceOptions(b, starts, steps).Union();
             }};
    m.ops = {op};
    m.inputs = {0};
    m.outputs = {1};
    add("misaligned slice starts", m.Bytes(), "slice vectors are not 8-byte aligned");
  }
  {
    RawModel m;
    m.tensors = {Tensor({2, 8})};
    m.inputs = {0};
    m.outputs = {0};
    m.pipeline = [](FBB& b) {
      auto ls = Misaligned8<int64_t>(b, {1, 2, 8});
      fb::PipelineBuilder p(b);
      p.add_latent_shape(ls);
      return p.Finish();
    };
    add("misaligned latent_shape", m.Bytes(), "pipeline: latent_shape vector is not 8-byte aligned");
  }

  // --- tensors: layout, buffer index, storage ---------------------------------
  {
    RawModel m;
    RawTensor t = Tensor({2, 8});
    t.layout = static_cast<L>(9);
    m.tensors = {t};
    add("unknown weight layout", m.Bytes(), "tensor 0 'a': unknown weight layout 9");
  }
  {
    RawModel m;
    RawTensor t = Tensor({2, 8});
    t.buffer = 1;
    m.tensors = {t};
    m.buffers = {Bytes(64)};
    add("tensor buffer index out of range", m.Bytes(), "buffer index 1 out of range (1 buffers)");
  }
  {
    RawModel m;
    RawTensor t = Tensor({16, 16}, fb::DType::I8);
    t.layout = L::PackedInt8N16K4;
    m.tensors = {t};
    add("packed activation", m.Bytes(), "tensor 0 'a': an activation must have layout RowMajor");
  }
  {
    RawTensor t = Tensor({16, 16});
    t.layout = L::PackedInt8N16K4;
    add("packed layout on F32", OneConstant(t, 1024).Bytes(),
        "tensor 0 'c': layout PackedInt8N16K4 does not fit dtype F32 and rank 2");
  }
  {
    RawTensor t = Tensor({16, 4, 16}, fb::DType::NVFP4);
    t.layout = L::PackedNvfp4N16K64;
    add("packed NVFP4 of rank 3", OneConstant(t, 512).Bytes(),
        "layout PackedNvfp4N16K64 does not fit dtype NVFP4 and rank 3");
  }
  add("constant storage beyond the limit",
      OneConstant(Tensor({int64_t(1) << 30}), 64).Bytes(),
      "tensor 0 'c': storage size overflows the limit");
  {
    // Packed INT8 [20, 10] is stored as N 32 x K 12 = 384 bytes, not 200.
    RawTensor t = Quantized({20, 10}, fb::DType::I8, Q::Int8PerChannel, 1, L::PackedInt8N16K4);
    add("packed INT8 size", OneConstant(t, 200, 80).Bytes(),
        "tensor 0 'c': buffer 0 holds 200 bytes, expected 384");
  }
  {
    // Packed F32 [20, 10] is N 32 x K 10 floats = 1280 bytes, not 800.
    RawTensor t = Tensor({20, 10});
    t.layout = L::PackedF32N16;
    add("packed F32 size", OneConstant(t, 800).Bytes(),
        "tensor 0 'c': buffer 0 holds 800 bytes, expected 1280");
  }
  {
    RawTensor t = Tensor({16, 4, 16});
    t.layout = L::PackedF32N16;
    add("packed F32 of rank 3", OneConstant(t, 4096).Bytes(),
        "tensor 0 'c': layout PackedF32N16 does not fit dtype F32 and rank 3");
  }
  {
    RawTensor t = Tensor({16, 16}, fb::DType::I8);
    t.layout = L::PackedF32N16;
    add("packed F32 layout on I8", OneConstant(t, 256).Bytes(),
        "tensor 0 'c': layout PackedF32N16 does not fit dtype I8 and rank 2");
  }
  {
    RawModel m;
    RawTensor t = Tensor({16, 16});
    t.layout = L::PackedF32N16;
    m.tensors = {t};
    add("packed F32 activation", m.Bytes(), "tensor 0 'a': an activation must have layout RowMajor");
  }
  {
    // Packed NVFP4 [20, 40] is N 32 x K 48 / 2 = 768 code bytes, not 400.
    RawTensor t = Quantized({20, 40}, fb::DType::NVFP4, Q::NVFP4, 1, L::PackedNvfp4N16K64);
    add("packed NVFP4 size", OneConstant(t, 400, 96).Bytes(),
        "tensor 0 'c': buffer 0 holds 400 bytes, expected 768");
  }

  // --- quantization structure -------------------------------------------------
  {
    RawTensor t = Quantized({4, 8}, fb::DType::I8, static_cast<Q>(5));
    add("unknown quantization scheme", OneConstant(t, 32, 16).Bytes(),
        "tensor 0 'c': unknown quantization scheme 5");
  }
  {
    RawTensor t = Tensor({4, 16}, fb::DType::NVFP4);
    add("NVFP4 without quantization", OneConstant(t, 32).Bytes(),
        "tensor 0 'c': dtype NVFP4 requires NVFP4 quantization");
  }
  {
    RawTensor t = Tensor({4, 8});
    t.quant = true;
    t.scale_buffer = 1;
    add("scale buffer without a scheme", OneConstant(t, 128, 16).Bytes(),
        "tensor 0 'c': scale_buffer 1 set without a quantization scheme");
  }
  {
    RawModel m;
    RawTensor t = Quantized({4, 8}, fb::DType::I8, Q::Int8PerChannel, 0);
    m.tensors = {t};
    m.buffers = {Bytes(16)};
    add("quantized activation", m.Bytes(), "tensor 0 'a': an activation cannot be quantized");
  }
  {
    RawTensor t = Quantized({}, fb::DType::I8, Q::Int8PerChannel, 1);
    add("quantized scalar", OneConstant(t, 1, 4).Bytes(),
        "tensor 0 'c': a quantized tensor needs rank >= 1");
  }
  {
    RawTensor t = Quantized({4, 16}, fb::DType::I8, Q::NVFP4, 1);
    add("NVFP4 scheme on I8", OneConstant(t, 64, 4).Bytes(),
        "tensor 0 'c': NVFP4 quantization requires dtype NVFP4, got I8");
  }
  {
    RawTensor t = Quantized({4, 32}, fb::DType::NVFP4, Q::NVFP4, 1);
    t.block_size = 32;
    add("NVFP4 block 32", OneConstant(t, 64, 4).Bytes(), "tensor 0 'c': NVFP4 block_size 32 is not 16");
  }
  {
    RawTensor t = Quantized({4, 8}, fb::DType::F32, Q::Int8PerChannel, 1);
    add("Int8PerChannel on F32", OneConstant(t, 128, 16).Bytes(),
        "tensor 0 'c': Int8PerChannel quantization requires dtype I8, got F32");
  }
  {
    RawTensor t = Quantized({4, 8}, fb::DType::I8, Q::Int8PerChannel, 7);
    add("scale buffer index out of range", OneConstant(t, 32, 16).Bytes(),
        "tensor 0 'c': scale_buffer index 7 out of range (2 buffers)");
  }
  {
    RawTensor t = Quantized({4, 8}, fb::DType::I8, Q::Int8PerChannel, 1);
    add("per-channel scales short", OneConstant(t, 32, 12).Bytes(),
        "tensor 0 'c': scale buffer 1 holds 12 bytes, expected 16");
  }
  {
    // Packed NVFP4 [20, 40]: block scales N 32 x K 48 / 16 = 96 bytes.
    RawTensor t = Quantized({20, 40}, fb::DType::NVFP4, Q::NVFP4, 1, L::PackedNvfp4N16K64);
    add("packed NVFP4 scales sized row-major", OneConstant(t, 768, 60).Bytes(),
        "tensor 0 'c': scale buffer 1 holds 60 bytes, expected 96");
  }

  // --- operators --------------------------------------------------------------
  {
    // Three Concats sharing one 4096-entry input vector: 12,288 references
    // from a file of about 17 KiB.
    RawModel m;
    m.tensors = {Tensor({1, 8}), Tensor({4096, 8}), Tensor({4096, 8}), Tensor({4096, 8})};
    m.ops = {RawOp{T::Concat, std::vector<int>(4096, 0), {1}, fb::OpOptions::AxisOptions,
                   [](FBB& b) { return fb::CreateAxisOptions(b, 0).Union(); }}};
    m.repeat_last_op = 2;
    m.inputs = {0};
    m.outputs = {1};
    add("shared index vectors", m.Bytes(), "operators reference more tensors than the file holds");
  }
  add("graph input listed twice", [] {
        Small s;
        s.w.SetInputs({kX, kX});
        return s.Op(T::Gelu, {kX}).Bytes();
      }(),
      "graph input 1: tensor 0 'x' is listed twice");
  add("unknown fused activation",
      WithAttrs(T::Linear, {kX, kW}, [](OpAttrs& a) { a.activation = static_cast<fb::Activation>(9); }),
      "op 0 (Linear 'bad'): unknown fused activation 9");
  add("negative epsilon", WithAttrs(T::LayerNorm, {kX}, [](OpAttrs& a) { a.epsilon = -1e-5f; }),
      "op 0 (LayerNorm 'bad'): epsilon -1e-05 must be finite and >= 0");
  add("groupnorm zero groups", WithAttrs(T::GroupNorm, {kX}, [](OpAttrs& a) { a.groups = 0; }),
      "op 0 (GroupNorm 'bad'): groups 0 must be >= 1");
  add("groupnorm gelu", WithAttrs(T::GroupNorm, {kX}, [](OpAttrs& a) { a.activation = fb::Activation::Gelu; }),
      "op 0 (GroupNorm 'bad'): fused activation 1 is not None or SiLU");
  add("slice starts of rank 1", WithAttrs(T::Slice, {kX}, [](OpAttrs& a) {
        a.starts = {0};
        a.steps = {1};
      }),
      "slice starts/steps have 1/1 entries, input rank is 2");
  add("conv negative padding", WithAttrs(T::Conv2d, {kX, kW}, [](OpAttrs& a) { a.pad_left = -1; }),
      "op 0 (Conv2d 'bad'): conv padding must be >= 0");
  add("timestep max_period 0",
      WithAttrs(T::TimestepEmbedding, {kX}, [](OpAttrs& a) {
        a.dim = 8;
        a.max_period = 0.f;
      }),
      "timestep embedding max_period/shift/scale must be finite (max_period > 0)");
  add("attention negative scale", Attention([](OpAttrs& a) { a.scale = -0.5f; }),
      "op 0 (Attention 'bad'): attention scale -0.5 must be finite and >= 0");
  add("attention layout 3",
      Attention([](OpAttrs& a) { a.layout = static_cast<fb::TensorLayout>(3); }),
      "op 0 (Attention 'bad'): unknown attention layout 3");
  add("sparse density above 1", Attention([](OpAttrs& a) { a.sparse_density = 1.5f; }),
      "op 0 (Attention 'bad'): sparse_density 1.5 not in [0, 1]");
  add("sparse density NaN", Attention([](OpAttrs& a) { a.sparse_density = kNaN; }),
      "sparse_density nan not in [0, 1]");
  add("attention precision 4",
      Attention([](OpAttrs& a) { a.attention_precision = static_cast<fb::AttentionPrecision>(4); }),
      "op 0 (Attention 'bad'): attention precision 4 unknown");
  add("attention sparse_mode 2", Attention([](OpAttrs& a) { a.sparse_mode = 2; }),
      "op 0 (Attention 'bad'): attention sparse_mode 2 not 0 (tiles) or 1 (clusters)");
  add("attention sparse_err_tol inf", Attention([](OpAttrs& a) { a.sparse_err_tol = kInf; }),
      "op 0 (Attention 'bad'): attention sparse_err_tol is not finite");
  add("attention token_reuse negative", Attention([](OpAttrs& a) { a.token_reuse = -0.5f; }),
      "op 0 (Attention 'bad'): attention token_reuse -0.5 must be finite and >= 0");
  add("rope without heads", WithAttrs(T::RoPE, {kX, kW, kW}, [](OpAttrs& a) { a.num_heads = 0; }),
      "op 0 (RoPE 'bad'): num_heads 0 must be > 0");
  add("rope layout 5", WithAttrs(T::RoPE, {kX, kW, kW}, [](OpAttrs& a) {
        a.num_heads = 2;
        a.layout = static_cast<fb::TensorLayout>(5);
      }),
      "op 0 (RoPE 'bad'): unknown rope layout 5");
  add("unary kind 42", WithAttrs(T::Unary, {kX}, [](OpAttrs& a) { a.unary = static_cast<fb::UnaryKind>(42); }),
      "op 0 (Unary 'bad'): unknown unary kind 42");

  // --- dtypes -----------------------------------------------------------------
  add("concat of F32 and I32", [] {
        Small s;
        const int i = s.w.AddActivation("i", {2, 8}, fb::DType::I32);
        s.w.SetInputs({kX, i});
        OpAttrs a;
        a.axis = 0;
        s.w.AddOp(T::Concat, {kX, i}, {s.w.AddActivation("c", {4, 8})}, a, "cat");
        return s.Bytes();
      }(),
      "op 0 (Concat 'cat'): input 'i' has dtype I32, expected F32 like input 0");
  add("Linear weight of rank 3", [] {
        Small s;
        const int w3 = s.w.AddConstantF32("W3", {2, 8, 4}, Ramp(64));
        return s.Op(T::Linear, {kX, w3}).Bytes();
      }(),
      "op 0 (Linear 'bad'): weight 'W3' has rank 3, expected 2");
  // Conv2d weights: F32, or INT8 per channel as edge-convert --conv-precision
  // int8 writes it (row-major OIHW, one scale per output channel).
  add("Conv2d weight NVFP4", [] {
        Small s;
        const std::vector<uint8_t> codes(16), scales(2, 0x38);
        const int wn = s.w.AddNvfp4("Wn", {2, 16}, codes.data(), codes.size(), scales.data(), scales.size(), 1.f);
        return s.Op(T::Conv2d, {kX, wn}).Bytes();
      }(),
      "op 0 (Conv2d 'bad'): Conv2d weight 'Wn' has dtype NVFP4 with quantization NVFP4; expected F32 or I8 "
      "(Int8PerChannel)");
  add("Conv2d INT8 weight of rank 2", [] {
        Small s;
        const std::vector<int8_t> q(16);
        const int w8 = s.w.AddInt8PerChannel("W8", {2, 8}, q.data(), q.size(), {1.f, 2.f});
        return s.Op(T::Conv2d, {kX, w8}).Bytes();
      }(),
      "op 0 (Conv2d 'bad'): Conv2d INT8 weight 'W8' has rank 2, expected 4 (OIHW)");
  add("Conv2d INT8 weight packed", [] {
        Small s;
        const std::vector<int8_t> q(256);
        const int wp = s.w.AddInt8PerChannel("Wp", {16, 16}, q.data(), q.size(), std::vector<float>(16, 1.f),
                                             fb::WeightLayout::PackedInt8N16K4);
        return s.Op(T::Conv2d, {kX, wp}).Bytes();
      }(),
      "op 0 (Conv2d 'bad'): input 1 ('Wp') has packed layout PackedInt8N16K4; only a Linear weight may be");
  {
    // OIHW [2, 1, 2, 2] with one scale for its two output channels (the
    // writer refuses to build it).
    RawTensor t = Quantized({2, 1, 2, 2}, fb::DType::I8, Q::Int8PerChannel, 1);
    add("Conv2d INT8 weight scales short", OneConstant(t, 8, 4).Bytes(),
        "tensor 0 'c': scale buffer 1 holds 4 bytes, expected 8");
  }

  add("Add of an I32 input", [] {
        Small s;
        const int i = s.w.AddActivation("i", {2, 8}, fb::DType::I32);
        s.w.SetInputs({kX, i});
        return s.Op(T::Add, {kX, i}).Bytes();
      }(),
      "op 0 (Add 'bad'): input 1 ('i') has dtype I32, expected F32");

  // --- cache regions ----------------------------------------------------------
  add("region input out of range", WithRegion(0, 1, 42, kZ),
      "cache region 0 'blk': input tensor 42 out of range (3 tensors)");
  add("region input produced inside", WithRegion(0, 1, kY, kZ),
      "cache region 0 'blk': input 'y' is not available before op 0");
  add("region input and output shapes differ", WithRegion(0, 1, kX, kZ, {4, 4}),
      "cache region 0 'blk': input and output differ in shape or dtype");

  // --- pipeline ---------------------------------------------------------------
  add("unknown sampler", WithPipeline([](PipelineInfo& p) { p.sampler = static_cast<fb::Sampler>(7); }),
      "pipeline: unknown sampler 7");
  add("unknown prediction",
      WithPipeline([](PipelineInfo& p) { p.prediction = static_cast<fb::Prediction>(7); }),
      "pipeline: unknown prediction 7");
  add("unknown beta schedule",
      WithPipeline([](PipelineInfo& p) { p.beta_schedule = static_cast<fb::BetaSchedule>(7); }),
      "pipeline: unknown beta schedule 7");
  add("unknown output kind",
      WithPipeline([](PipelineInfo& p) { p.output_kind = static_cast<fb::OutputKind>(7); }),
      "pipeline: unknown output kind 7");
  add("timestep_scale NaN", WithPipeline([](PipelineInfo& p) { p.timestep_scale = kNaN; }),
      "pipeline: timestep_scale is not finite");
  add("negative num_classes", WithPipeline([](PipelineInfo& p) { p.num_classes = -2; }),
      "pipeline: num_classes -2 is negative");
  add("guidance reuse order 2", WithPipeline([](PipelineInfo& p) { p.guidance_reuse_order = 2; }),
      "pipeline: guidance reuse interval 0, warm-up 2 or order 2 out of range");
  add("DDIM betas reversed", WithPipeline([](PipelineInfo& p) {
        p.sampler = fb::Sampler::DDIM;
        p.beta_start = 0.02f;
        p.beta_end = 0.01f;
      }),
      "pipeline: DDIM betas [0.02, 0.01] must satisfy 0 < start <= end < 1");
  add("pipeline output not a graph output", WithPipeline([](PipelineInfo& p) { p.output = kZ; }),
      "pipeline: output tensor 2 'z' is not a graph output");

  // --- cache calibration ------------------------------------------------------
  add("calibration steps", WithCalibration([](CacheCalibrationInfo& c) { c.steps = -1; }),
      "cache calibration: steps -1 outside [0, 100000]");
  add("calibration entries", WithCalibration([](CacheCalibrationInfo& c) {
        c.policies.assign(257, c.policies[0]);
      }),
      "cache calibration: 257 policy entries (at most 256)");
  add("calibration policy", WithCalibration([](CacheCalibrationInfo& c) { c.policies[0].policy = 7; }),
      "cache calibration: entry 0 has unknown policy 7");
  add("calibration threshold", WithCalibration([](CacheCalibrationInfo& c) { c.policies[0].threshold = -1.f; }),
      "cache calibration: entry 0 has a threshold, PSNR or skip fraction out of range");
  add("calibration max_skips",
      WithCalibration([](CacheCalibrationInfo& c) { c.policies[0].max_skips = 1001; }),
      "cache calibration: entry 0 max_skips 1001 outside [-1, 1000]");
  add("calibration block count",
      WithCalibration([](CacheCalibrationInfo& c) { c.policies[0].block_thresholds = {0.1f, 0.2f}; }),
      "cache calibration: entry 0 has 2 per-block thresholds for 1 cache regions");
  add("calibration block threshold",
      WithCalibration([](CacheCalibrationInfo& c) { c.policies[0].block_thresholds = {kInf}; }),
      "cache calibration: entry 0 block threshold 0 is inf");
  add("calibration polynomial length",
      WithCalibration([](CacheCalibrationInfo& c) { c.tea_poly.assign(17, 0.5f); }),
      "cache calibration: rescaling polynomial of 17 terms (at most 16)");
  add("calibration polynomial NaN",
      WithCalibration([](CacheCalibrationInfo& c) { c.tea_poly = {1.f, kNaN}; }),
      "cache calibration: rescaling coefficient 1 is not finite");
  add("calibration ratios length",
      WithCalibration([](CacheCalibrationInfo& c) { c.mag_ratios.assign(100001, 1.f); }),
      "cache calibration: 100001 magnitude ratios (at most 100000)");
  add("calibration ratio 0", WithCalibration([](CacheCalibrationInfo& c) { c.mag_ratios = {1.f, 0.f}; }),
      "cache calibration: magnitude ratio 1 is 0");

  // --- tuned defaults (edge-convert --target-psnr) ----------------------------
  add("tuning speed-up", WithTuning([](TuningInfo& t) { t.predicted_speedup = kNaN; }),
      "tuning: target, PSNR or predicted speed-up not finite (or speed-up <= 0)");
  add("tuning weights", WithTuning([](TuningInfo& t) { t.weights = 3; }),
      "tuning: weights 3, attention precision 0 or sparse mode 0 out of range");
  add("tuning cache entry", WithTuning([](TuningInfo& t) { t.cache_entry = 1; }),
      "tuning: cache entry 1 outside [-1, 1)");
  add("tuning token reuse", WithTuning([](TuningInfo& t) { t.token_reuse = -0.5f; }),
      "tuning: token-reuse threshold -0.5 not a finite number >= 0");
  return cases;
}

}  // namespace testing_util

namespace {

TEST(ModelValidate, EachBranchRejectsItsCaseWithItsMessage) {
  const std::vector<MalformedCase> cases = testing_util::ValidatorBranchCases();
  for (const MalformedCase& c : cases) {
    SCOPED_TRACE(c.what);
    auto r = LoadBorrowed(c.bytes);
    if (r.ok()) {
      ADD_FAILURE() << "accepted";
      continue;
    }
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidModel) << r.status().message();
    EXPECT_NE(std::strstr(r.status().message(), c.message.c_str()), nullptr)
        << "got: " << r.status().message() << "\nwant: " << c.message;
  }
}

TEST(ModelValidate, CallerErrors) {
  ValidatedModel out;
  Status s = ValidateModel(nullptr, 0, &out);
  EXPECT_EQ(s.code(), StatusCode::kInvalidModel);
  EXPECT_STREQ(s.message(), "no data");
  Small small;
  const std::vector<uint8_t> bytes = small.Op(T::Gelu, {kX}).Bytes();
  std::vector<uint8_t> room(bytes.size() + 128);
  const uintptr_t base = (reinterpret_cast<uintptr_t>(room.data()) + 63) & ~uintptr_t(63);
  uint8_t* aligned = reinterpret_cast<uint8_t*>(base);
  std::memcpy(aligned + 8, bytes.data(), bytes.size());
  s = ValidateModel(aligned + 8, bytes.size(), &out);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_STREQ(s.message(), "model bytes are not 64-byte aligned");
  std::memcpy(aligned, bytes.data(), bytes.size());
  EXPECT_TRUE(ValidateModel(aligned, bytes.size(), &out).ok());
}

// ---------------------------------------------------------------------------
// Branch coverage: the rejection sites of the validator, read from its source.

struct Site {
  int line;
  std::string format;  // the printf format of its message
};

// Every `Invalid("...")`, `At(w, "...")` and `Status::Error(StatusCode::
// kInvalidArgument, "...")` call with its (possibly concatenated) format.
std::vector<Site> RejectionSites(const std::string& src) {
  std::vector<Site> sites;
  const char* openers[] = {"Invalid(\"", "At(w, \"", "StatusCode::kInvalidArgument, \""};
  for (const char* opener : openers) {
    for (size_t pos = src.find(opener); pos != std::string::npos; pos = src.find(opener, pos + 1)) {
      size_t i = pos + std::strlen(opener) - 1;  // at the opening quote
      std::string fmt;
      while (i < src.size() && src[i] == '"') {
        size_t j = i + 1;
        for (; j < src.size() && src[j] != '"'; ++j) {
          if (src[j] == '\\') ++j;
          fmt += src[j];
        }
        i = j + 1;
        while (i < src.size() && std::isspace(static_cast<unsigned char>(src[i]))) ++i;
      }
      const int line = 1 + static_cast<int>(std::count(src.begin(), src.begin() + pos, '\n'));
      sites.push_back({line, fmt});
    }
  }
  return sites;
}

// Whether `msg` is a message printed from `fmt`, after any "where: "
// prefix: the literal pieces between conversions appear in order, the first
// at the start of the message or of a ": "-separated part, the last at its
// end.
bool Matches(const std::string& fmt, const std::string& msg) {
  std::vector<std::string> pieces(1);
  for (size_t i = 0; i < fmt.size(); ++i) {
    if (fmt[i] == '%' && i + 1 < fmt.size() && fmt[i + 1] == '%') {
      pieces.back() += '%';
      ++i;
    } else if (fmt[i] == '%') {
      ++i;
      while (i < fmt.size() && !std::isalpha(static_cast<unsigned char>(fmt[i]))) ++i;
      while (i < fmt.size() && (fmt[i] == 'l' || fmt[i] == 'z' || fmt[i] == 'h')) ++i;
      pieces.emplace_back();
    } else {
      pieces.back() += fmt[i];
    }
  }
  for (size_t start = 0; start != std::string::npos;) {
    size_t at = start;
    bool ok = pieces[0].empty() || msg.compare(start, pieces[0].size(), pieces[0]) == 0;
    if (ok) at += pieces[0].size();
    for (size_t k = 1; ok && k < pieces.size(); ++k) {
      if (pieces[k].empty()) continue;
      const size_t f = k + 1 == pieces.size() ? msg.rfind(pieces[k]) : msg.find(pieces[k], at);
      ok = f != std::string::npos && f >= at;
      if (ok) at = f + pieces[k].size();
    }
    if (ok && (pieces.back().empty() || at == msg.size())) return true;
    start = msg.find(": ", start);
    if (start != std::string::npos) start += 2;
  }
  return false;
}

// Rejection sites no file can reach, each with the reason.
const struct {
  const char* format_start;
  const char* why;
} kUnreachable[] = {
    {"size prefix %u exceeds the FlatBuffers limit",
     "needs a file over 2 GiB: a smaller prefix is caught as past the end"},
    {"scale size overflows",
     "QuantScaleBytes only fails for shapes, schemes and block sizes rejected before it"},
    {"cache calibration: policy entry %d is null",
     "a verified vector of tables never yields a null entry"},
};

TEST(ModelValidate, EveryRejectionBranchHasACase) {
  std::ifstream f(EDGE_TEST_DATA_DIR "/../../runtime/model_validate.cc");
  ASSERT_TRUE(f.good());
  std::stringstream ss;
  ss << f.rdbuf();
  const std::vector<Site> sites = RejectionSites(ss.str());
  // The message formatters (Invalid, At) print "%s"; the rest are branches.
  ASSERT_GE(sites.size(), 100u);

  std::vector<std::string> messages;
  for (auto* list : {&testing_util::LoaderMalformedCases, &testing_util::ValidatorBranchCases,
                     &testing_util::MultiGraphMalformedCases}) {
    for (const MalformedCase& c : (*list)()) {
      auto r = LoadBorrowed(c.bytes);
      if (!r.ok()) messages.push_back(r.status().message());
    }
  }
  messages.push_back("no data");
  messages.push_back("model bytes are not 64-byte aligned");

  int covered = 0, unreachable = 0, branches = 0;
  for (const Site& s : sites) {
    if (s.format == "%s" || s.format == "%s%s") continue;  // the formatters themselves
    ++branches;
    bool skip = false;
    for (const auto& u : kUnreachable) skip |= s.format.rfind(u.format_start, 0) == 0;
    if (skip) {
      ++unreachable;
      continue;
    }
    bool hit = false;
    for (const std::string& m : messages) hit |= Matches(s.format, m);
    covered += hit;
    EXPECT_TRUE(hit) << "model_validate.cc:" << s.line << " has no case: \"" << s.format << "\"";
  }
  std::printf("validator rejection branches: %d, with a case: %d, unreachable: %d\n", branches,
              covered, unreachable);
  EXPECT_EQ(unreachable, static_cast<int>(sizeof(kUnreachable) / sizeof(kUnreachable[0])));
}

}  // namespace
}  // namespace edge
