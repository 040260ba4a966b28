// Helpers shared by the model writer/loader tests.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "runtime/model.h"
#include "runtime/writer/model_writer.h"

namespace edge {
namespace testing_util {

// An exactly sized, 64-byte aligned copy of some bytes: the loader may
// borrow it, and AddressSanitizer flags any read past its end.
class AlignedBytes {
 public:
  explicit AlignedBytes(const std::vector<uint8_t>& bytes, size_t size) : size_(size) {
    if (posix_memalign(&p_, 64, size ? size : 1) != 0) p_ = nullptr;
    if (p_ && size) std::memcpy(p_, bytes.data(), size);
  }
  explicit AlignedBytes(const std::vector<uint8_t>& bytes) : AlignedBytes(bytes, bytes.size()) {}
  ~AlignedBytes() { std::free(p_); }
  AlignedBytes(const AlignedBytes&) = delete;
  AlignedBytes& operator=(const AlignedBytes&) = delete;
  const void* data() const { return p_; }
  size_t size() const { return size_; }

 private:
  void* p_ = nullptr;
  size_t size_;
};

inline Result<std::unique_ptr<Model>> LoadBorrowed(const std::vector<uint8_t>& bytes,
                                                   size_t size) {
  AlignedBytes copy(bytes, size);
  auto r = Model::LoadBuffer(copy.data(), copy.size(), /*copy=*/false);
  if (!r.ok()) return r.status();
  // The borrowed bytes die here: hand back a model that owns its copy.
  return Model::LoadBuffer(copy.data(), copy.size(), /*copy=*/true);
}

inline Result<std::unique_ptr<Model>> LoadBorrowed(const std::vector<uint8_t>& bytes) {
  return LoadBorrowed(bytes, bytes.size());
}

// A malformed model file and the substring its rejection message must hold.
struct MalformedCase {
  std::string what;
  std::vector<uint8_t> bytes;
  std::string message;
};
// The loader test's cases (model_loader_test.cc) and one case per validator
// rejection branch they leave out (model_validate_test.cc).
std::vector<MalformedCase> LoaderMalformedCases();
std::vector<MalformedCase> ValidatorBranchCases();
// Graph tables and links of multi-graph files (multi_graph_test.cc).
std::vector<MalformedCase> MultiGraphMalformedCases();

inline std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir && dir[0] ? dir : "/tmp") + "/edge_model_test_" +
         std::to_string(static_cast<long>(getpid())) + "_" + name;
}

inline std::vector<float> Ramp(size_t n, float start = 0.f, float step = 0.25f) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = start + step * static_cast<float>(i);
  return v;
}

// Every op type once, with non-default options wherever an op has them.
struct AllOps {
  using T = fb::OpType;
  ModelWriter w;
  int x, t, ids;
  int W, bias, Wq, Wn, M, gamma, beta, shift, scale, gate, Wc, bc, table, cosv, sinv;
  std::vector<int> acts;  // output of op i
  std::vector<int8_t> q;
  std::vector<float> qscales;
  std::vector<uint8_t> codes, bscales;

  AllOps() {
    w.SetName("all-ops");
    w.SetProducer("model_writer_test 1.0");
    x = w.AddActivation("x", {1, 4, 8});
    t = w.AddActivation("t", {1});
    ids = w.AddActivation("ids", {1, 4}, fb::DType::I32);
    W = w.AddConstantF32("W", {8, 8}, Ramp(64));
    bias = w.AddConstantF32("b", {8}, Ramp(8, -1.f));
    q.resize(64);
    for (int i = 0; i < 64; ++i) q[i] = static_cast<int8_t>(i * 5 - 160);
    qscales = Ramp(8, 0.01f, 0.01f);
    Wq = w.AddInt8PerChannel("Wq", {8, 8}, q.data(), q.size(), qscales);
    codes.resize(8 * 4);
    for (size_t i = 0; i < codes.size(); ++i) codes[i] = static_cast<uint8_t>(i * 13);
    bscales.assign(8, 0x38);  // E4M3 1.0
    Wn = w.AddNvfp4("Wn", {8, 8}, codes.data(), codes.size(), bscales.data(), bscales.size(),
                    0.125f);
    M = w.AddConstantF32("M", {8, 8}, Ramp(64, 1.f));
    gamma = w.AddConstantF32("gamma", {8}, Ramp(8, 1.f));
    beta = w.AddConstantF32("beta", {8}, Ramp(8, 0.5f));
    shift = w.AddConstantF32("shift", {1, 8}, Ramp(8));
    scale = w.AddConstantF32("scale", {1, 8}, Ramp(8, 0.1f));
    gate = w.AddConstantF32("gate", {1, 8}, Ramp(8, 0.2f));
    Wc = w.AddConstantF32("Wc", {4, 1, 3, 2}, Ramp(24));
    bc = w.AddConstantF32("bc", {4}, Ramp(4));
    table = w.AddConstantF32("table", {10, 8}, Ramp(80));
    cosv = w.AddConstantF32("cos", {4, 4}, Ramp(16));
    sinv = w.AddConstantF32("sin", {4, 4}, Ramp(16, 2.f));

    OpAttrs a;
    auto act = [&](const std::string& n, std::vector<int64_t> s) {
      acts.push_back(w.AddActivation(n, s));
      return acts.back();
    };
    a.activation = fb::Activation::GeluTanh;
    w.AddOp(T::Linear, {x, W, bias}, {act("a0", {1, 4, 8})}, a, "op0");
    a = OpAttrs();
    w.AddOp(T::Linear, {acts[0], Wq, -1}, {act("a1", {1, 4, 8})}, a, "op1");
    w.AddOp(T::Linear, {acts[1], Wn}, {act("a2", {1, 4, 8})}, a, "op2");
    a.transpose_b = true;
    w.AddOp(T::MatMul, {acts[2], M}, {act("a3", {1, 4, 8})}, a, "op3");
    a = OpAttrs();
    a.epsilon = 1e-6f;
    w.AddOp(T::LayerNorm, {acts[3], gamma, beta}, {act("a4", {1, 4, 8})}, a, "op4");
    a.epsilon = 3e-5f;
    w.AddOp(T::RMSNorm, {acts[4], gamma}, {act("a5", {1, 4, 8})}, a, "op5");
    a = OpAttrs();
    w.AddOp(T::Modulate, {acts[5], shift, scale}, {act("a6", {1, 4, 8})}, a, "op6");
    w.AddOp(T::GatedResidual, {acts[6], gate, acts[5]}, {act("a7", {1, 4, 8})}, a, "op7");
    a.approximate_tanh = true;
    w.AddOp(T::Gelu, {acts[7]}, {act("a8", {1, 4, 8})}, a, "op8");
    a = OpAttrs();
    w.AddOp(T::SiLU, {acts[8]}, {act("a9", {1, 4, 8})}, a, "op9");
    a.axis = -1;
    w.AddOp(T::Softmax, {acts[9]}, {act("a10", {1, 4, 8})}, a, "op10");
    a = OpAttrs();
    w.AddOp(T::Add, {acts[10], acts[9]}, {act("a11", {1, 4, 8})}, a, "op11");
    w.AddOp(T::Sub, {acts[11], acts[10]}, {act("a12", {1, 4, 8})}, a, "op12");
    w.AddOp(T::Mul, {acts[12], acts[11]}, {act("a13", {1, 4, 8})}, a, "op13");
    w.AddOp(T::Div, {acts[13], gamma}, {act("a14", {1, 4, 8})}, a, "op14");
    w.AddOp(T::Reshape, {acts[14]}, {act("a15", {1, 4, 2, 4})}, a, "op15");
    a.perm = {0, 2, 1, 3};
    w.AddOp(T::Transpose, {acts[15]}, {act("a16", {1, 2, 4, 4})}, a, "op16");
    a = OpAttrs();
    a.axis = 1;
    w.AddOp(T::Concat, {acts[16], acts[16]}, {act("a17", {1, 4, 4, 4})}, a, "op17");
    const int s0 = w.AddActivation("a18a", {1, 2, 4, 4});
    const int s1 = w.AddActivation("a18b", {1, 2, 4, 4});
    a.axis = -3;
    w.AddOp(T::Split, {acts[17]}, {s0, s1}, a, "op18");
    acts.push_back(s0);
    a = OpAttrs();
    a.starts = {0, 0, 1, 0};
    a.steps = {1, 1, 1, 2};
    w.AddOp(T::Slice, {s0}, {act("a19", {1, 2, 3, 2})}, a, "op19");
    a = OpAttrs();
    a.kernel_h = 3;
    a.kernel_w = 2;
    a.stride_h = 2;
    a.stride_w = 3;
    a.pad_top = 1;
    a.pad_left = 2;
    a.pad_bottom = 3;
    a.pad_right = 4;
    a.dilation_h = 2;
    a.dilation_w = 1;
    a.groups = 2;
    w.AddOp(T::Conv2d, {s1, Wc, bc}, {act("a20", {1, 4, 2, 2})}, a, "op20");
    a = OpAttrs();
    a.dim = 8;
    a.max_period = 5000.f;
    a.cos_first = false;
    a.downscale_freq_shift = 1.f;
    a.t_scale = 1000.f;
    w.AddOp(T::TimestepEmbedding, {t}, {act("a21", {1, 8})}, a, "op21");
    a = OpAttrs();
    w.AddOp(T::Embedding, {ids, table}, {act("a22", {1, 4, 8})}, a, "op22");
    a.num_heads = 2;
    a.scale = 0.f;  // stored as given; the runtime resolves 1/sqrt(dh)
    a.layout = fb::TensorLayout::BHSD;
    a.sparse_density = 0.25f;
    w.AddOp(T::Attention, {acts[22], acts[22], acts[22]}, {act("a23", {1, 4, 8})}, a, "op23");
    a = OpAttrs();
    a.num_heads = 2;
    a.interleaved = true;
    a.layout = fb::TensorLayout::BSHD;
    w.AddOp(T::RoPE, {acts[23], cosv, sinv}, {act("a24", {1, 4, 8})}, a, "op24");
    a = OpAttrs();
    a.unary = fb::UnaryKind::Erf;
    w.AddOp(T::Unary, {acts[24]}, {act("a25", {1, 4, 8})}, a, "op25");
    a = OpAttrs();
    w.AddOp(T::Copy, {acts[25]}, {act("a26", {1, 4, 8})}, a, "op26");
    a = OpAttrs();
    a.groups = 2;
    a.epsilon = 2e-6f;
    a.activation = fb::Activation::SiLU;
    w.AddOp(T::GroupNorm, {acts[26]}, {act("a27", {1, 4, 8})}, a, "op27");
    a = OpAttrs();
    w.AddOp(T::Upsample, {acts[27]}, {act("a28", {1, 8, 16})}, a, "op28");

    w.SetInputs({x, t, ids});
    w.SetOutputs({acts[26], acts[20], acts[21], acts[19], acts[28]});
    w.AddCacheRegion("blk0", 4, 7, acts[3], acts[7]);
    PipelineInfo p;
    p.sampler = fb::Sampler::DDIM;
    p.prediction = fb::Prediction::Epsilon;
    p.train_steps = 999;
    p.default_steps = 7;
    p.shift = 3.f;
    p.guidance_scale = 4.5f;
    p.latent_shape = {2, 4, 4, 8};
    p.latent_input = x;
    p.timestep_input = t;
    p.condition_input = ids;
    p.output = acts[26];
    p.timestep_scale = 1.f;
    p.num_classes = 10;
    p.null_condition = 1000;
    p.beta_schedule = fb::BetaSchedule::ScaledLinear;
    p.beta_start = 0.00085f;
    p.beta_end = 0.012f;
    p.output_kind = fb::OutputKind::Latent;
    w.SetPipeline(p);
  }
};

}  // namespace testing_util
}  // namespace edge
