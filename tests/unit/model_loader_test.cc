// The loader against malformed and hostile files: each must be rejected with
// a message naming what is wrong, and nothing may crash or read out of
// bounds (run these under ASan/UBSan too).
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <set>
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
using testing_util::Ramp;
using testing_util::TempPath;
using T = fb::OpType;

// Tensor ids of the base model.
enum { kX = 0, kW = 1, kB = 2, kY = 3, kZ = 4 };

// x[2,8] -> Linear(W[8,8], b[8]) -> y -> Gelu -> z, with a cache region over
// both ops and a pipeline. Each piece can be swapped by the cases below.
struct Base {
  ModelWriter w;
  std::vector<int64_t> y_shape = {2, 8};
  fb::DType y_dtype = fb::DType::F32;
  bool add_tensors = true, add_graph = true, add_region = true, add_pipeline = true;
  PipelineInfo pipeline;

  Base() {
    pipeline.latent_shape = {1, 2, 8};
    pipeline.latent_input = kX;
    pipeline.output = kZ;
  }
  void Tensors() {
    w.AddActivation("x", {2, 8});
    w.AddConstantF32("W", {8, 8}, Ramp(64));
    w.AddConstantF32("b", {8}, Ramp(8));
    w.AddActivation("y", y_shape, y_dtype);
    w.AddActivation("z", {2, 8});
  }
  void Graph() {
    OpAttrs a;
    a.activation = fb::Activation::SiLU;
    w.AddOp(T::Linear, {kX, kW, kB}, {kY}, a, "fc");
    w.AddOp(T::Gelu, {kY}, {kZ}, OpAttrs(), "act");
    w.SetInputs({kX});
    w.SetOutputs({kZ});
  }
  std::vector<uint8_t> Bytes() {
    if (add_tensors) Tensors();
    if (add_graph) Graph();
    if (add_region) w.AddCacheRegion("blk", 0, 1, kX, kZ);
    if (add_pipeline) w.SetPipeline(pipeline);
    std::vector<uint8_t> out;
    Status s = w.Finish(&out);
    EXPECT_TRUE(s.ok()) << s.message();
    return out;
  }
};

std::vector<uint8_t> ValidFile() {
  Base b;
  return b.Bytes();
}

// A base model whose graph is replaced by `graph`.
std::vector<uint8_t> WithGraph(const std::function<void(ModelWriter&)>& graph,
                               bool region = false) {
  Base b;
  b.Tensors();
  b.add_tensors = false;
  b.add_graph = false;
  b.add_region = region;
  b.add_pipeline = false;
  graph(b.w);
  return b.Bytes();
}

std::vector<uint8_t> OneOp(T type, std::vector<int> in, std::vector<int> out,
                           const OpAttrs& a = OpAttrs()) {
  return WithGraph([&](ModelWriter& w) {
    w.AddOp(type, in, out, a, "bad");
    w.SetInputs({kX});
    w.SetOutputs(out.empty() || out[0] < 0 || out[0] > kZ ? std::vector<int>{} : out);
  });
}

fb::Buffer* MutableBuffer(std::vector<uint8_t>& bytes, int i) {
  const fb::Model* m = fb::GetSizePrefixedModel(bytes.data());
  return const_cast<fb::Buffer*>(m->buffers()->Get(static_cast<flatbuffers::uoffset_t>(i)));
}

std::vector<uint8_t> PatchBuffer(uint64_t offset, uint64_t size, int index = 0) {
  std::vector<uint8_t> bytes = ValidFile();
  *MutableBuffer(bytes, index) = fb::Buffer(offset, size);
  return bytes;
}

// Raw FlatBuffer files, for what the writer refuses to produce.
std::vector<uint8_t> RawFile(flatbuffers::FlatBufferBuilder& b,
                             flatbuffers::Offset<fb::Model> root,
                             const std::vector<uint8_t>& data) {
  fb::FinishSizePrefixedModelBuffer(b, root);
  std::vector<uint8_t> out(b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize());
  out.resize(DataSegmentOffset(b.GetSize() - 4), 0);
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

// x[2,3] -> op(type, options) -> y[3,2]; optionally a constant W[4,8] whose
// buffer holds `w_bytes` bytes.
std::vector<uint8_t> RawOneOp(T type, fb::OpOptions opt_type, bool with_options,
                              int w_bytes = -1) {
  flatbuffers::FlatBufferBuilder b;
  std::vector<flatbuffers::Offset<fb::Tensor>> tensors;
  const std::vector<int64_t> sx = {2, 3}, sy = {3, 2}, sw = {4, 8};
  tensors.push_back(fb::CreateTensorDirect(b, "x", &sx));
  tensors.push_back(fb::CreateTensorDirect(b, "y", &sy));
  std::vector<fb::Buffer> buffers;
  std::vector<uint8_t> data;
  if (w_bytes >= 0) {
    tensors.push_back(fb::CreateTensorDirect(b, "W", &sw, fb::DType::F32, 0));
    buffers.emplace_back(0, static_cast<uint64_t>(w_bytes));
    data.assign(static_cast<size_t>(w_bytes), 0);
  }
  flatbuffers::Offset<void> options;
  if (with_options) {
    switch (opt_type) {
      case fb::OpOptions::AxisOptions: options = fb::CreateAxisOptions(b, 0).Union(); break;
      case fb::OpOptions::TransposeOptions: {
        const std::vector<int> perm = {1, 0};
        options = fb::CreateTransposeOptionsDirect(b, &perm).Union();
        break;
      }
      default: options = fb::CreateGeluOptions(b, true).Union(); break;
    }
  }
  const std::vector<int> in = {0}, out = {1};
  auto op = fb::CreateOperatorDirect(b, type, &in, &out, opt_type, options, "raw");
  std::vector<flatbuffers::Offset<fb::Operator>> ops = {op};
  const std::vector<int> gin = {0}, gout = {1};
  auto root = fb::CreateModelDirect(b, kFormatVersion, "raw", "raw", &tensors, &ops, &gin, &gout,
                                    &buffers);
  return RawFile(b, root, data);
}

using Case = testing_util::MalformedCase;

}  // namespace

namespace testing_util {

std::vector<MalformedCase> LoaderMalformedCases() {
  std::vector<Case> cases;
  auto add = [&](const std::string& what, std::vector<uint8_t> bytes, const std::string& msg) {
    cases.push_back({what, std::move(bytes), msg});
  };
  const uint64_t u64max = std::numeric_limits<uint64_t>::max();

  // --- header ---------------------------------------------------------------
  add("too small", {1, 2, 3, 4, 5}, "file too small (5 bytes");
  {
    auto v = ValidFile();
    std::memcpy(v.data() + 8, "XXXX", 4);
    add("wrong identifier", v, "wrong file identifier 'XXXX' (expected 'EDGE')");
  }
  {
    auto v = ValidFile();
    const uint32_t big = static_cast<uint32_t>(v.size());
    std::memcpy(v.data(), &big, 4);
    add("size prefix past end", v, "exceeds the file size");
  }
  {
    auto v = ValidFile();
    const uint32_t tiny = 4;
    std::memcpy(v.data(), &tiny, 4);
    add("size prefix too small", v, "size prefix 4 is too small");
  }
  {
    std::vector<uint8_t> v(256);
    std::mt19937 rng(7);
    for (auto& x : v) x = static_cast<uint8_t>(rng());
    const uint32_t prefix = 200;
    std::memcpy(v.data(), &prefix, 4);
    std::memcpy(v.data() + 8, "EDGE", 4);
    add("garbage behind a valid header", v, "FlatBuffer verification failed");
  }
  {
    Base b;
    b.w.SetFormatVersionForTesting(kFormatVersion + 1);
    add("future version", b.Bytes(),
        "model format version 3 is newer than this runtime supports (2)");
  }
  {
    Base b;
    b.w.SetFormatVersionForTesting(0);
    add("version 0", b.Bytes(), "format_version is missing or 0");
  }

  // --- buffers --------------------------------------------------------------
  add("buffer offset past end", PatchBuffer(1 << 20, 256),
      "buffer 0 (offset 1048576, size 256) ends past end of file");
  add("buffer size past end", PatchBuffer(256, 100000, 1),
      "buffer 1 (offset 256, size 100000) ends past end of file");
  add("misaligned buffer offset", PatchBuffer(260, 32, 1),
      "buffer 1: offset 260 is not a multiple of 64");
  add("buffer offset near UINT64_MAX", PatchBuffer(u64max - 63, 128),
      "offset 18446744073709551552, size 128) ends past end");
  add("buffer size UINT64_MAX", PatchBuffer(64, u64max),
      "size 18446744073709551615) ends past end");
  add("buffer size does not match tensor", RawOneOp(T::SiLU, fb::OpOptions::NONE, false, 12),
      "tensor 2 'W': buffer 0 holds 12 bytes, expected 128");

  // --- tensors --------------------------------------------------------------
  {
    Base b;
    b.y_shape = {2, -8};
    add("negative dim", b.Bytes(), "tensor 3 'y': dim 1 is negative (-8)");
  }
  {
    Base b;
    b.y_shape = {1 << 20, 1 << 20, 1 << 20};
    add("element count overflow", b.Bytes(), "tensor 3 'y': element count overflows");
  }
  {
    Base b;
    b.y_shape = {int64_t(1) << 40};
    add("dim beyond the limit", b.Bytes(), "dim 0 (1099511627776) exceeds the element limit");
  }
  {
    Base b;
    b.y_shape = {1, 1, 1, 1, 1, 1, 1, 2, 8};
    add("rank 9", b.Bytes(), "tensor 3 'y': rank 9 exceeds the maximum 8");
  }
  {
    Base b;
    b.y_dtype = static_cast<fb::DType>(42);
    add("unknown dtype", b.Bytes(), "tensor 3 'y': unknown dtype 42");
  }
  {
    Base b;
    b.y_dtype = fb::DType::NVFP4;
    add("NVFP4 activation", b.Bytes(), "tensor 3 'y': an activation cannot have dtype NVFP4");
  }
  add("Int8 per-channel scale NaN", WithGraph([](ModelWriter& w) {
        std::vector<int8_t> q(16);
        w.AddInt8PerChannel("q", {2, 8}, q.data(), q.size(), {1.f, std::nanf("")});
      }),
      "tensor 5 'q': per-channel scale 1 is not finite");
  add("NVFP4 tensor scale 0", WithGraph([](ModelWriter& w) {
        std::vector<uint8_t> codes(8), sc(2, 0x38);
        w.AddNvfp4("n", {2, 8}, codes.data(), codes.size(), sc.data(), sc.size(), 0.f);
      }),
      "tensor 5 'n': NVFP4 tensor_scale 0 must be finite and positive");
  add("NVFP4 block scale NaN", WithGraph([](ModelWriter& w) {
        std::vector<uint8_t> codes(8), sc = {0x38, 0xff};
        w.AddNvfp4("n", {2, 8}, codes.data(), codes.size(), sc.data(), sc.size(), 1.f);
      }),
      "tensor 5 'n': E4M3 block scale 1 is NaN");

  // --- operators: indices, arity, options -----------------------------------
  add("op input index out of range", OneOp(T::Linear, {kX, 99, kB}, {kY}),
      "op 0 (Linear 'bad'): input 1: tensor index 99 out of range (5 tensors)");
  add("op output -1", OneOp(T::Gelu, {kX}, {-1}), "output 0: tensor index -1 out of range");
  add("required input absent", OneOp(T::Linear, {kX, -1}, {kY}), "required input 1 is absent");
  add("unknown op type", OneOp(static_cast<T>(200), {kX}, {kY}), "unknown op type 200");
  add("Linear with one input", OneOp(T::Linear, {kX}, {kY}),
      "op 0 (Linear 'bad'): has 1 inputs, expects 2..3");
  add("Attention with two inputs", OneOp(T::Attention, {kX, kX}, {kY}),
      "op 0 (Attention 'bad'): has 2 inputs, expects 3..3");
  add("Gelu with two outputs", OneOp(T::Gelu, {kX}, {kY, kZ}), "has 2 outputs, expects 1..1");
  {
    OpAttrs a;
    a.perm = {0, 0};
    add("transpose perm repeats", OneOp(T::Transpose, {kX}, {kY}, a),
        "perm is not a permutation of 0..1 (entry 1 is 0)");
    a.perm = {0, 1, 2};
    add("transpose perm too long", OneOp(T::Transpose, {kX}, {kY}, a),
        "perm has 3 entries, input rank is 2");
  }
  add("transpose without options", RawOneOp(T::Transpose, fb::OpOptions::NONE, false),
      "op 0 (Transpose 'raw'): missing TransposeOptions");
  add("Gelu without options", RawOneOp(T::Gelu, fb::OpOptions::NONE, false),
      "op 0 (Gelu 'raw'): missing GeluOptions");
  add("options on an op without any", RawOneOp(T::SiLU, fb::OpOptions::GeluOptions, true),
      "does not belong to this op (expected none)");
  add("options of another op", RawOneOp(T::Gelu, fb::OpOptions::AxisOptions, true),
      "does not belong to this op (expected GeluOptions)");
  {
    OpAttrs a;
    a.starts = {0, 0};
    a.steps = {1, 0};
    add("slice step 0", OneOp(T::Slice, {kX}, {kY}, a), "slice step 1 is 0");
  }
  {
    OpAttrs a;
    a.groups = 0;
    add("conv groups 0", OneOp(T::Conv2d, {kX, kW}, {kY}, a),
        "conv kernel/stride/dilation/groups must be > 0");
  }
  {
    OpAttrs a;
    a.dim = 7;
    add("odd timestep dim", OneOp(T::TimestepEmbedding, {kX}, {kY}, a),
        "timestep embedding dim 7 must be positive and even");
  }
  {
    OpAttrs a;
    a.num_heads = 0;
    add("attention without heads", OneOp(T::Attention, {kX, kX, kX}, {kY}, a),
        "num_heads 0 must be > 0");
  }
  {
    OpAttrs a;
    a.axis = 2;
    add("softmax axis out of range", OneOp(T::Softmax, {kX}, {kY}, a),
        "axis 2 out of range for rank 2");
  }

  // --- operators: producers and graph order ---------------------------------
  add("cycle", WithGraph([](ModelWriter& w) {
        w.AddOp(T::Add, {kX, kZ}, {kY}, OpAttrs(), "add");
        w.AddOp(T::Gelu, {kY}, {kZ}, OpAttrs(), "act");
        w.SetInputs({kX});
        w.SetOutputs({kZ});
      }),
      "op 0 (Add 'add'): input 1 is tensor 4 'z', used before it is produced (by op 1)");
  add("self loop", OneOp(T::Add, {kX, kY}, {kY}), "used before it is produced (by op 0)");
  add("input never produced", OneOp(T::Add, {kX, kZ}, {kY}),
      "input 1 is tensor 4 'z', which is never produced");
  add("output produced twice", WithGraph([](ModelWriter& w) {
        w.AddOp(T::Gelu, {kX}, {kY});
        w.AddOp(T::SiLU, {kX}, {kY});
        w.SetInputs({kX});
        w.SetOutputs({kY});
      }),
      "op 1 (SiLU ''): output 0 is tensor 3 'y', already produced by op 0");
  add("constant as op output", OneOp(T::Gelu, {kX}, {kW}),
      "output 0 is tensor 1 'W', a constant");
  add("graph input as op output", OneOp(T::Gelu, {kY}, {kX}),
      "output 0 is tensor 0 'x', a graph input");
  add("graph input out of range", WithGraph([](ModelWriter& w) { w.SetInputs({7}); }),
      "graph input 0: tensor index 7 out of range");
  add("constant graph input", WithGraph([](ModelWriter& w) { w.SetInputs({kW}); }),
      "graph input 0 is tensor 1 'W', a constant");
  add("graph output never produced", WithGraph([](ModelWriter& w) { w.SetOutputs({kZ}); }),
      "graph output 0 is tensor 4 'z', which no op produces");

  // --- dtypes ---------------------------------------------------------------
  add("Linear weight I32", WithGraph([](ModelWriter& w) {
        std::vector<int32_t> v(64);
        const int wi = w.AddConstant("Wi", {8, 8}, fb::DType::I32, v.data(), 256);
        w.AddOp(T::Linear, {kX, wi}, {kY});
        w.SetInputs({kX});
      }),
      "weight 'Wi' has dtype I32 with quantization None");
  add("Linear weight I8 without scales", WithGraph([](ModelWriter& w) {
        std::vector<int8_t> v(64);
        const int wi = w.AddConstant("W8", {8, 8}, fb::DType::I8, v.data(), 64);
        w.AddOp(T::Linear, {kX, wi}, {kY});
        w.SetInputs({kX});
      }),
      "weight 'W8' has dtype I8 with quantization None");
  {
    Base b;
    b.y_dtype = fb::DType::I32;
    add("Linear output I32", b.Bytes(), "op 0 (Linear 'fc'): output 'y' has dtype I32");
  }
  add("Embedding ids F32", WithGraph([](ModelWriter& w) {
        w.AddOp(T::Embedding, {kX, kW}, {kY});
        w.SetInputs({kX});
      }),
      "ids 'x' have dtype F32, expected I32 or I64");
  add("quantized tensor into Add", WithGraph([](ModelWriter& w) {
        std::vector<int8_t> q(16);
        const int qi = w.AddInt8PerChannel("q", {2, 8}, q.data(), q.size(), {1.f, 2.f});
        w.AddOp(T::Add, {kX, qi}, {kY});
        w.SetInputs({kX});
      }),
      "input 1 ('q') is quantized; only a Linear or Conv2d weight may be");
  add("packed F32 weight into MatMul", WithGraph([](ModelWriter& w) {
        const int pw = w.AddConstantF32Packed("p", {8, 8}, std::vector<float>(64, 1.f));
        w.AddOp(T::MatMul, {kX, pw}, {kY});
        w.SetInputs({kX});
      }),
      "input 1 ('p') has packed layout PackedF32N16; only a Linear weight may be");
  add("reshape changes dtype", WithGraph([](ModelWriter& w) {
        const int ii = w.AddActivation("i", {16}, fb::DType::I32);
        w.AddOp(T::Reshape, {kX}, {ii});
        w.SetInputs({kX});
      }),
      "output 'i' has dtype I32, expected F32 like the input");

  // --- cache regions and pipeline --------------------------------------------
  {
    Base b;
    b.add_region = false;
    b.w.AddCacheRegion("blk", 0, 99, kX, kZ);
    add("cache region op range", b.Bytes(), "cache region 0 'blk': op range [0, 99] invalid");
  }
  {
    Base b;
    b.add_region = false;
    b.w.AddCacheRegion("blk", 0, 1, kX, 42);
    add("cache region tensor", b.Bytes(), "cache region 0 'blk': output tensor 42 out of range");
  }
  {
    Base b;
    b.add_region = false;
    b.w.AddCacheRegion("blk", 1, 1, kX, kY);
    add("cache region output outside", b.Bytes(), "output 'y' is not produced inside ops [1, 1]");
  }
  {
    Base b;
    b.pipeline.latent_input = 99;
    add("pipeline tensor out of range", b.Bytes(),
        "pipeline: latent_input tensor 99 out of range (5 tensors)");
  }
  {
    Base b;
    b.pipeline.timestep_input = kY;
    add("pipeline input not a graph input", b.Bytes(),
        "timestep_input tensor 3 'y' is not a graph input");
  }
  {
    Base b;
    b.pipeline.latent_shape = {16, 16};
    add("latent rank 2", b.Bytes(), "latent_shape has rank 2, expected 3 or 4");
  }
  {
    Base b;
    b.pipeline.latent_shape = {4, 0, 8};
    add("latent dim 0", b.Bytes(), "latent_shape dim 1 (0) must be positive");
  }
  {
    Base b;
    b.pipeline.default_steps = 0;
    add("zero steps", b.Bytes(), "default_steps 0 must be >= 1");
  }
  {
    Base b;
    b.pipeline.train_steps = -5;
    add("negative train steps", b.Bytes(), "train_steps -5 must be >= 1");
  }
  {
    Base b;
    b.pipeline.shift = std::nanf("");
    add("NaN shift", b.Bytes(), "must be finite and > 0");
  }
  {
    Base b;
    b.pipeline.guidance_scale = std::numeric_limits<float>::infinity();
    add("infinite guidance", b.Bytes(), "guidance_scale is not finite");
  }
  return cases;
}

}  // namespace testing_util

namespace {

TEST(ModelLoader, ValidBaseLoads) {
  auto r = LoadBorrowed(ValidFile());
  ASSERT_TRUE(r.ok()) << r.status().message();
  const Model& m = **r;
  EXPECT_EQ(m.num_tensors(), 5);
  EXPECT_EQ(m.num_nodes(), 2);
  EXPECT_EQ(m.node(0).op->options_as_LinearOptions()->activation(), fb::Activation::SiLU);
  EXPECT_EQ(m.cache_regions().size(), 1u);
  ASSERT_NE(m.pipeline(), nullptr);
}

TEST(ModelLoader, RejectsMalformedFilesWithPreciseMessages) {
  const std::vector<Case> cases = testing_util::LoaderMalformedCases();
  std::set<std::string> distinct;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    auto r = LoadBorrowed(c.bytes);
    ASSERT_FALSE(r.ok()) << "accepted";
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidModel) << r.status().message();
    EXPECT_NE(std::strstr(r.status().message(), c.message.c_str()), nullptr)
        << "got: " << r.status().message() << "\nwant: " << c.message;
    // The owned-copy path gives the same verdict.
    auto r2 = Model::LoadBuffer(c.bytes.data(), c.bytes.size(), /*copy=*/true);
    ASSERT_FALSE(r2.ok());
    EXPECT_STREQ(r2.status().message(), r.status().message());
    distinct.insert(c.message);
  }
  EXPECT_GE(distinct.size(), 24u);
  EXPECT_EQ(distinct.size(), cases.size());
}

TEST(ModelLoader, EveryTruncationFailsCleanly) {
  const std::vector<uint8_t> bytes = ValidFile();
  ASSERT_TRUE(LoadBorrowed(bytes).ok());
  for (size_t n = 0; n < bytes.size(); ++n) {
    auto r = LoadBorrowed(bytes, n);
    ASSERT_FALSE(r.ok()) << "prefix of " << n << " bytes loaded";
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidModel) << n;
  }
  // Through the file path as well, at a few cut points.
  const std::string path = TempPath("trunc.fb");
  for (size_t n : {size_t(3), size_t(12), bytes.size() / 2, bytes.size() - 1}) {
    FILE* f = std::fopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::fwrite(bytes.data(), 1, n, f);
    std::fclose(f);
    auto r = Model::LoadFile(path.c_str());
    ASSERT_FALSE(r.ok()) << n;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidModel);
    EXPECT_NE(std::strstr(r.status().message(), path.c_str()), nullptr);
  }
  unlink(path.c_str());
}

TEST(ModelLoader, EveryBitFlipIsHandled) {
  // A flip may give another valid model or an error; it must never crash or
  // read outside the buffer (checked by the sanitizer build).
  const std::vector<uint8_t> bytes = ValidFile();
  int loaded = 0, rejected = 0;
  std::vector<uint8_t> v = bytes;
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      v[i] = static_cast<uint8_t>(bytes[i] ^ (1u << bit));
      auto r = LoadBorrowed(v);
      if (r.ok()) {
        ++loaded;
        // A model that loads must be internally consistent.
        const Model& m = **r;
        for (int n = 0; n < m.num_nodes(); ++n) {
          for (int t : m.node(n).inputs) ASSERT_LT(t, m.num_tensors());
          for (int t : m.node(n).outputs) ASSERT_LT(t, m.num_tensors());
        }
      } else {
        ++rejected;
        EXPECT_EQ(r.status().code(), StatusCode::kInvalidModel);
      }
      v[i] = bytes[i];
    }
  }
  EXPECT_GT(rejected, 0);
  EXPECT_GT(loaded, 0);  // flips inside constant data are harmless
}

TEST(ModelLoader, MutationsOfARichModelAreHandled) {
  // The model with every op type, quantized weights, a cache region and a
  // pipeline: corrupt each byte, then apply random multi-byte mutations with
  // values that tend to hit edge cases (0, -1, INT_MAX, small indices).
  testing_util::AllOps m;
  std::vector<uint8_t> bytes;
  ASSERT_TRUE(m.w.Finish(&bytes).ok());
  ASSERT_TRUE(LoadBorrowed(bytes).ok());
  int rejected = 0;
  std::vector<uint8_t> v = bytes;
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (uint8_t x : {uint8_t(0xff), uint8_t(0x80), uint8_t(0x01)}) {
      v[i] = static_cast<uint8_t>(bytes[i] ^ x);
      auto r = LoadBorrowed(v);
      rejected += !r.ok();
      v[i] = bytes[i];
    }
  }
  EXPECT_GT(rejected, 0);
  std::mt19937 rng(99);
  const uint32_t interesting[] = {0u, 1u, 2u, 7u, 0xffffffffu, 0x7fffffffu, 0x80000000u, 64u, 4096u};
  for (int trial = 0; trial < 3000; ++trial) {
    v = bytes;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      const size_t pos = rng() % (v.size() - 4);
      if (rng() % 2) {
        const uint32_t val = interesting[rng() % (sizeof(interesting) / sizeof(interesting[0]))];
        std::memcpy(v.data() + (pos & ~size_t(3)), &val, 4);
      } else {
        v[pos] = static_cast<uint8_t>(rng());
      }
    }
    auto r = LoadBorrowed(v);
    if (!r.ok()) EXPECT_EQ(r.status().code(), StatusCode::kInvalidModel);
  }
}

TEST(ModelLoader, RandomBytesAreRejected) {
  std::mt19937 rng(1234);
  for (int trial = 0; trial < 300; ++trial) {
    std::vector<uint8_t> v(rng() % 2048);
    for (auto& x : v) x = static_cast<uint8_t>(rng());
    if (trial % 2 == 1 && v.size() >= 12) {
      // Make half of them get past the header checks.
      const uint32_t prefix = static_cast<uint32_t>(v.size() - 4 - rng() % 8);
      std::memcpy(v.data(), &prefix, 4);
      std::memcpy(v.data() + 8, "EDGE", 4);
    }
    auto r = LoadBorrowed(v);
    EXPECT_FALSE(r.ok()) << trial;
  }
}

TEST(ModelLoader, FileErrors) {
  auto missing = Model::LoadFile(TempPath("does-not-exist.fb").c_str());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kIoError);
  EXPECT_NE(std::strstr(missing.status().message(), "cannot open"), nullptr);

  const std::string dir = TempPath("a-directory");
  ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
  auto d = Model::LoadFile(dir.c_str());
  rmdir(dir.c_str());
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), StatusCode::kIoError);
  EXPECT_NE(std::strstr(d.status().message(), "is a directory"), nullptr);

  const std::string empty = TempPath("empty.fb");
  FILE* f = std::fopen(empty.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  std::fclose(f);
  auto e = Model::LoadFile(empty.c_str());
  unlink(empty.c_str());
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kInvalidModel);
  EXPECT_NE(std::strstr(e.status().message(), "is empty"), nullptr);

  auto dev = Model::LoadFile("/dev/null");
  ASSERT_FALSE(dev.ok());
  EXPECT_NE(std::strstr(dev.status().message(), "not a regular file"), nullptr);

  EXPECT_EQ(Model::LoadFile(nullptr).status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(Model::LoadBuffer(nullptr, 0, true).ok());
  // Borrowed bytes must be 64-byte aligned.
  const std::vector<uint8_t> bytes = ValidFile();
  testing_util::AlignedBytes aligned(bytes);
  std::vector<uint8_t> shifted(bytes.size() + 1);
  std::copy(bytes.begin(), bytes.end(), shifted.begin() + 1);
  const uint8_t* p = shifted.data() + 1;
  ASSERT_NE(reinterpret_cast<uintptr_t>(p) % 64, 0u);
  // Misaligned borrowed bytes are copied: constants stay aligned and do not
  // point into the caller's buffer.
  auto r = Model::LoadBuffer(p, bytes.size(), false);
  ASSERT_TRUE(r.ok()) << r.status().message();
  const TensorInfo& w = (*r)->tensor(kW);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(w.data) % 64, 0u);
  EXPECT_FALSE(w.data >= p && w.data < p + bytes.size());
  auto borrowed = Model::LoadBuffer(aligned.data(), aligned.size(), false);
  ASSERT_TRUE(borrowed.ok());
  const uint8_t* base = static_cast<const uint8_t*>(aligned.data());
  EXPECT_TRUE((*borrowed)->tensor(kW).data > base &&
              (*borrowed)->tensor(kW).data < base + aligned.size());
}

TEST(ModelLoader, MmapAndReadPathsAgree) {
  const std::vector<uint8_t> bytes = ValidFile();
  const std::string path = TempPath("paths.fb");
  FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
  auto mapped = Model::LoadFile(path.c_str());
  ASSERT_TRUE(mapped.ok()) << mapped.status().message();
  setenv("EDGE_NO_MMAP", "1", 1);
  auto read = Model::LoadFile(path.c_str());
  unsetenv("EDGE_NO_MMAP");
  unlink(path.c_str());
  ASSERT_TRUE(read.ok()) << read.status().message();
  const Model& a = **mapped;
  const Model& b = **read;
  ASSERT_EQ(a.num_tensors(), b.num_tensors());
  for (int i = 0; i < a.num_tensors(); ++i) {
    EXPECT_STREQ(a.tensor(i).name, b.tensor(i).name);
    EXPECT_EQ(a.tensor(i).bytes, b.tensor(i).bytes);
    if (a.tensor(i).is_constant) {
      EXPECT_EQ(reinterpret_cast<uintptr_t>(b.tensor(i).data) % 64, 0u);
      EXPECT_EQ(std::memcmp(a.tensor(i).data, b.tensor(i).data, a.tensor(i).bytes), 0);
    }
  }
  EXPECT_EQ(a.constant_bytes(), (64 + 8) * 4u);
  EXPECT_EQ(b.constant_bytes(), a.constant_bytes());
}

}  // namespace
}  // namespace edge
