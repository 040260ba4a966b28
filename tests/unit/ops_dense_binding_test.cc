// Dense F32 op bindings end to end: a one-op model built with ModelWriter,
// loaded with Model::LoadBuffer and run by a Session (1 and 2 threads),
// compared with the ops' references; plus the prepare-time errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "ops/f32_attention.h"
#include "ops/qs8_attention.h"
#include "ops/f32_conv2d.h"
#include "ops/f32_gemm.h"
#include "ops/f32_matmul.h"
#include "ops/f32_rope.h"
#include "runtime/model.h"
#include "runtime/session.h"
#include "runtime/writer/model_writer.h"

namespace edge {
namespace {

std::vector<float> Rand(size_t n, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

double RelErr(const float* got, const std::vector<float>& ref) {
  double md = 0, mr = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    if (!std::isfinite(got[i])) return HUGE_VAL;
    md = std::fmax(md, std::fabs(double(got[i]) - ref[i]));
    mr = std::fmax(mr, std::fabs(double(ref[i])));
  }
  return md / std::fmax(1e-6, mr);
}

struct Built {
  std::vector<uint8_t> bytes;
  std::unique_ptr<Model> model;
};

// Builds and loads; fails the test if either step fails.
bool Build(ModelWriter& w, Built* b) {
  Status st = w.Finish(&b->bytes);
  EXPECT_TRUE(st.ok()) << st.message();
  if (!st.ok()) return false;
  auto m = Model::LoadBuffer(b->bytes.data(), b->bytes.size(), /*copy=*/true);
  EXPECT_TRUE(m.ok()) << m.status().message();
  if (!m.ok()) return false;
  b->model = std::move(m.value());
  return true;
}

// Runs the model with the given inputs (tensor id -> data) and compares
// output `out` with `ref` for 1 and 2 threads.
void RunAndCompare(const Model& model, const std::vector<std::pair<int, const std::vector<float>*>>& in,
                   int out, const std::vector<float>& ref, const char* expect_kernel_prefix,
                   double tol = 1e-5) {
  for (int threads : {1, 2}) {
    SessionOptions so;
    so.num_threads = threads;
    auto s = Session::Create(&model, so);
    ASSERT_TRUE(s.ok()) << s.status().message();
    for (const auto& p : in) {
      Status st = (*s)->SetInput(p.first, p.second->data(), p.second->size() * sizeof(float));
      ASSERT_TRUE(st.ok()) << st.message();
    }
    Status st = (*s)->Invoke();
    ASSERT_TRUE(st.ok()) << st.message();
    EXPECT_LE(RelErr(static_cast<const float*>((*s)->data(out)), ref), tol)
        << (*s)->kernel_name(0) << " threads " << threads;
    EXPECT_EQ(std::string((*s)->kernel_name(0)).rfind(expect_kernel_prefix, 0), 0u)
        << (*s)->kernel_name(0);
    // A second run gives the same result (no state leaks between runs).
    std::vector<float> first(static_cast<const float*>((*s)->data(out)),
                             static_cast<const float*>((*s)->data(out)) + ref.size());
    ASSERT_TRUE((*s)->Invoke().ok());
    EXPECT_EQ(0, std::memcmp(first.data(), (*s)->data(out), ref.size() * sizeof(float)));
  }
}

// Model build ok, then Session::Create must fail with `code` and a message
// containing `needle` (the loader may also reject it first as invalid).
// The model loads (the loader's checks are tested elsewhere); preparing it
// fails with `code` and a message holding `needle`.
void ExpectPrepareError(ModelWriter& w, StatusCode code, const char* needle,
                        const SessionOptions& options = SessionOptions()) {
  std::vector<uint8_t> bytes;
  ASSERT_TRUE(w.Finish(&bytes).ok());
  auto m = Model::LoadBuffer(bytes.data(), bytes.size(), true);
  ASSERT_TRUE(m.ok()) << "rejected at load, prepare never ran: " << m.status().message();
  auto s = Session::Create(m->get(), options);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), code) << s.status().message();
  EXPECT_NE(std::strstr(s.status().message(), needle), nullptr) << s.status().message();
}

TEST(DenseBinding, LinearAllActivations) {
  const size_t M = 37, K = 72, N = 65;
  for (int act = 0; act <= 3; ++act) {
    for (bool bias : {false, true}) {
      std::vector<float> x = Rand(M * K, 1 + act), wv = Rand(N * K, 2), bv = Rand(N, 3);
      ModelWriter w;
      const int xi = w.AddActivation("x", {1, int64_t(M), int64_t(K)});
      const int wi = w.AddConstantF32("w", {int64_t(N), int64_t(K)}, wv);
      const int bi = bias ? w.AddConstantF32("b", {int64_t(N)}, bv) : -1;
      const int yi = w.AddActivation("y", {1, int64_t(M), int64_t(N)});
      OpAttrs a;
      a.activation = static_cast<fb::Activation>(act);
      w.AddOp(fb::OpType::Linear, {xi, wi, bi}, {yi}, a, "fc");
      w.SetInputs({xi});
      w.SetOutputs({yi});
      Built b;
      ASSERT_TRUE(Build(w, &b));
      std::vector<float> ref(M * N);
      f32_gemm_ref(M, N, K, x.data(), K, wv.data(), K, bias ? bv.data() : nullptr, ref.data(), N,
                   static_cast<GemmActivation>(act));
      // Our SIMD GEMM where we have one; XNNPACK where we would be scalar
      // (run with EDGE_ISA_CAP=scalar to cover that path).
      const char* prefix = "f32_gemm_";
#if defined(EDGE_WITH_XNNPACK)
      if (BestIsaLevel(DetectCpuFeatures()) == IsaLevel::kScalar) prefix = "xnnpack_fully_connected_f32";
#endif
      RunAndCompare(*b.model, {{xi, &x}}, yi, ref, prefix);
    }
  }
}

TEST(DenseBinding, LinearWithRuntimeWeightUsesOwnGemm) {
  const size_t M = 9, K = 33, N = 17;
  std::vector<float> x = Rand(M * K, 5), wv = Rand(N * K, 6), bv = Rand(N, 7);
  ModelWriter w;
  const int xi = w.AddActivation("x", {int64_t(M), int64_t(K)});
  const int wi = w.AddActivation("w", {int64_t(N), int64_t(K)});
  const int bi = w.AddConstantF32("b", {int64_t(N)}, bv);
  const int yi = w.AddActivation("y", {int64_t(M), int64_t(N)});
  OpAttrs a;
  a.activation = fb::Activation::SiLU;
  w.AddOp(fb::OpType::Linear, {xi, wi, bi}, {yi}, a, "fc");
  w.SetInputs({xi, wi});
  w.SetOutputs({yi});
  Built b;
  ASSERT_TRUE(Build(w, &b));
  std::vector<float> ref(M * N);
  f32_gemm_ref(M, N, K, x.data(), K, wv.data(), K, bv.data(), ref.data(), N,
               GemmActivation::kSiLU);
  RunAndCompare(*b.model, {{xi, &x}, {wi, &wv}}, yi, ref, "f32_gemm_");
}

TEST(DenseBinding, LinearErrors) {
  {
    ModelWriter w;
    const int xi = w.AddActivation("x", {4, 96});
    const int wi = w.AddConstantF32("w", {8, 64}, std::vector<float>(8 * 64, 0.f));
    const int yi = w.AddActivation("y", {4, 8});
    w.AddOp(fb::OpType::Linear, {xi, wi}, {yi});
    w.SetInputs({xi});
    w.SetOutputs({yi});
    ExpectPrepareError(w, StatusCode::kInvalidModel, "Linear: x last dim 96 != weight K 64");
  }
  {
    ModelWriter w;
    const int xi = w.AddActivation("x", {4, 16});
    // An int8 weight that is not a constant (no scales to run it with): the
    // loader already refuses it, before the kernel's own check could run.
    const int wi = w.AddActivation("w", {8, 16}, fb::DType::I8);
    const int yi = w.AddActivation("y", {4, 8});
    w.AddOp(fb::OpType::Linear, {xi, wi}, {yi});
    w.SetInputs({xi, wi});
    w.SetOutputs({yi});
    std::vector<uint8_t> bytes;
    ASSERT_TRUE(w.Finish(&bytes).ok());
    auto m = Model::LoadBuffer(bytes.data(), bytes.size(), true);
    ASSERT_FALSE(m.ok());
    EXPECT_NE(std::strstr(m.status().message(), "weight 'w' has dtype I8 with quantization None"), nullptr)
        << m.status().message();
  }
}

TEST(DenseBinding, MatMulBroadcastAndTranspose) {
  // a [2, 3, 5, 24] . b^T with b [3, 16, 24] -> [2, 3, 5, 16]
  std::vector<float> a = Rand(2 * 3 * 5 * 24, 11), bm = Rand(3 * 16 * 24, 12);
  ModelWriter w;
  const int ai = w.AddActivation("a", {2, 3, 5, 24});
  const int bi = w.AddActivation("b", {3, 16, 24});
  const int ci = w.AddActivation("c", {2, 3, 5, 16});
  OpAttrs at;
  at.transpose_b = true;
  w.AddOp(fb::OpType::MatMul, {ai, bi}, {ci}, at, "mm");
  w.SetInputs({ai, bi});
  w.SetOutputs({ci});
  Built b;
  ASSERT_TRUE(Build(w, &b));
  F32MatMulDims d;
  d.batch_rank = 2;
  d.out_batch[0] = 2; d.out_batch[1] = 3;
  d.a_batch[0] = 2; d.a_batch[1] = 3;
  d.b_batch[0] = 1; d.b_batch[1] = 3;
  d.m = 5; d.n = 16; d.k = 24; d.transpose_b = true;
  std::vector<float> ref(2 * 3 * 5 * 16);
  f32_matmul_ref(d, a.data(), bm.data(), ref.data());
  RunAndCompare(*b.model, {{ai, &a}, {bi, &bm}}, ci, ref, "f32_gemm_");
}

TEST(DenseBinding, MatMulConstantB) {
  std::vector<float> a = Rand(4 * 7 * 33, 13), bm = Rand(33 * 40, 14);
  ModelWriter w;
  const int ai = w.AddActivation("a", {4, 7, 33});
  const int bi = w.AddConstantF32("b", {33, 40}, bm);
  const int ci = w.AddActivation("c", {4, 7, 40});
  w.AddOp(fb::OpType::MatMul, {ai, bi}, {ci}, OpAttrs(), "mm");
  w.SetInputs({ai});
  w.SetOutputs({ci});
  Built b;
  ASSERT_TRUE(Build(w, &b));
  F32MatMulDims d;
  d.batch_rank = 1;
  d.out_batch[0] = 4; d.a_batch[0] = 4; d.b_batch[0] = 1;
  d.m = 7; d.n = 40; d.k = 33;
  std::vector<float> ref(4 * 7 * 40);
  f32_matmul_ref(d, a.data(), bm.data(), ref.data());
  RunAndCompare(*b.model, {{ai, &a}}, ci, ref, "f32_gemm_");
}

void ConvCase(int64_t B, int64_t C, int64_t H, int64_t W, int64_t O, int k, int s, int pad,
              int dil, int g, const char* prefix) {
  OpAttrs at;
  at.kernel_h = at.kernel_w = k;
  at.stride_h = at.stride_w = s;
  at.pad_top = at.pad_left = at.pad_bottom = at.pad_right = pad;
  at.dilation_h = at.dilation_w = dil;
  at.groups = g;
  const int64_t OH = int64_t(f32_conv2d_out_size(H, k, s, pad, pad, dil));
  const int64_t OW = int64_t(f32_conv2d_out_size(W, k, s, pad, pad, dil));
  std::vector<float> x = Rand(B * C * H * W, 21), wv = Rand(O * C / g * k * k, 22),
                     bv = Rand(O, 23);
  ModelWriter w;
  const int xi = w.AddActivation("x", {B, C, H, W});
  const int wi = w.AddConstantF32("w", {O, C / g, k, k}, wv);
  const int bi = w.AddConstantF32("b", {O}, bv);
  const int yi = w.AddActivation("y", {B, O, OH, OW});
  w.AddOp(fb::OpType::Conv2d, {xi, wi, bi}, {yi}, at, "conv");
  w.SetInputs({xi});
  w.SetOutputs({yi});
  Built b;
  ASSERT_TRUE(Build(w, &b));
  F32Conv2dParams p;
  p.batch = B; p.in_c = C; p.in_h = H; p.in_w = W; p.out_c = O; p.out_h = OH; p.out_w = OW;
  p.kernel_h = p.kernel_w = k; p.stride_h = p.stride_w = s; p.pad_top = p.pad_left = pad;
  p.dilation_h = p.dilation_w = dil; p.groups = g;
  std::vector<float> ref(B * O * OH * OW);
  f32_conv2d_ref(p, x.data(), wv.data(), bv.data(), ref.data());
  // Our im2col + GEMM where we have a SIMD GEMM; XNNPACK where we would be
  // scalar (run with EDGE_ISA_CAP=scalar to cover that path).
#if defined(EDGE_WITH_XNNPACK)
  if (BestIsaLevel(DetectCpuFeatures()) == IsaLevel::kScalar) prefix = "xnnpack_convolution2d_nhwc_f32";
#endif
  RunAndCompare(*b.model, {{xi, &x}}, yi, ref, prefix);
  // 1, 2 and 3 threads give the same bits (tests/unit/determinism_test.cc's
  // rule, here for either path).
  std::vector<float> first;
  for (int threads : {1, 2, 3}) {
    SessionOptions so;
    so.num_threads = threads;
    auto sess = Session::Create(b.model.get(), so);
    ASSERT_TRUE(sess.ok()) << sess.status().message();
    ASSERT_TRUE((*sess)->SetInput(xi, x.data(), x.size() * sizeof(float)).ok());
    ASSERT_TRUE((*sess)->Invoke().ok());
    const float* y = static_cast<const float*>((*sess)->data(yi));
    if (threads == 1) first.assign(y, y + ref.size());
    EXPECT_EQ(0, std::memcmp(first.data(), y, ref.size() * sizeof(float))) << prefix << " threads " << threads;
  }
}

TEST(DenseBinding, Conv2dPatchEmbedAndGeneral) {
  ConvCase(2, 4, 16, 16, 48, 2, 2, 0, 1, 1, "f32_conv2d_patchify_gemm_");
  ConvCase(1, 6, 11, 9, 10, 3, 2, 1, 2, 2, "f32_conv2d_im2col_gemm_");
  // A decoder's 3x3 (same padding, several chunks) and 1x1 shortcut.
  ConvCase(1, 24, 40, 36, 20, 3, 1, 1, 1, 1, "f32_conv2d_im2col_gemm_");
  ConvCase(2, 32, 20, 24, 16, 1, 1, 0, 1, 1, "f32_conv2d_patchify_gemm_");
}

void AttentionCase(fb::TensorLayout layout, int64_t B, int64_t H, int64_t Nq, int64_t Nk,
                   int64_t dh, float scale,
                   fb::AttentionPrecision precision = fb::AttentionPrecision::FP32) {
  const bool bshd = layout == fb::TensorLayout::BSHD;
  const std::vector<int64_t> qs = bshd ? std::vector<int64_t>{B, Nq, H * dh}
                                       : std::vector<int64_t>{B, H, Nq, dh};
  const std::vector<int64_t> ks = bshd ? std::vector<int64_t>{B, Nk, H * dh}
                                       : std::vector<int64_t>{B, H, Nk, dh};
  std::vector<float> q = Rand(B * H * Nq * dh, 31), k = Rand(B * H * Nk * dh, 32),
                     v = Rand(B * H * Nk * dh, 33);
  ModelWriter w;
  const int qi = w.AddActivation("q", qs), ki = w.AddActivation("k", ks),
            vi = w.AddActivation("v", ks), oi = w.AddActivation("o", qs);
  OpAttrs at;
  at.num_heads = int(H);
  at.scale = scale;
  at.layout = layout;
  at.attention_precision = precision;
  w.AddOp(fb::OpType::Attention, {qi, ki, vi}, {oi}, at, "attn");
  w.SetInputs({qi, ki, vi});
  w.SetOutputs({oi});
  Built b;
  ASSERT_TRUE(Build(w, &b));
  F32AttentionParams p;
  p.batch = B; p.heads = H; p.nq = Nq; p.nk = Nk; p.head_dim = dh;
  p.scale = scale != 0.f ? scale : 1.f / std::sqrt(float(dh));
  f32_attention_set_layout(&p, bshd ? AttentionLayout::kBSHD : AttentionLayout::kBHSD);
  std::vector<float> ref(q.size());
  p.q = q.data(); p.k = k.data(); p.v = v.data(); p.out = ref.data();
  if (precision == fb::AttentionPrecision::INT8) {
    qs8_attention_ref(p);
    RunAndCompare(*b.model, {{qi, &q}, {ki, &k}, {vi, &v}}, oi, ref, "qs8_attention_", 2e-4);
  } else {
    f32_attention_ref(p);
    RunAndCompare(*b.model, {{qi, &q}, {ki, &k}, {vi, &v}}, oi, ref, "f32_attention_");
  }
}

TEST(DenseBinding, AttentionLayoutsSelfAndCross) {
  AttentionCase(fb::TensorLayout::BSHD, 2, 3, 70, 70, 40, 0.f);
  AttentionCase(fb::TensorLayout::BHSD, 1, 4, 33, 129, 72, 0.2f);
}

TEST(DenseBinding, AttentionInt8StoredInModel) {
  AttentionCase(fb::TensorLayout::BSHD, 2, 3, 70, 70, 40, 0.f, fb::AttentionPrecision::INT8);
  AttentionCase(fb::TensorLayout::BHSD, 1, 4, 33, 129, 72, 0.2f, fb::AttentionPrecision::INT8);
}

// The session override beats the stored precision, both ways.
TEST(DenseBinding, AttentionPrecisionOverride) {
  for (fb::AttentionPrecision stored : {fb::AttentionPrecision::FP32, fb::AttentionPrecision::INT8}) {
    ModelWriter w;
    const int qi = w.AddActivation("q", {1, 80, 64}), ki = w.AddActivation("k", {1, 80, 64}),
              vi = w.AddActivation("v", {1, 80, 64}), oi = w.AddActivation("o", {1, 80, 64});
    OpAttrs at;
    at.num_heads = 2;
    at.attention_precision = stored;
    w.AddOp(fb::OpType::Attention, {qi, ki, vi}, {oi}, at, "attn");
    w.SetInputs({qi, ki, vi});
    w.SetOutputs({oi});
    Built b;
    ASSERT_TRUE(Build(w, &b));
    for (int ov : {-1, 0, 1}) {
      SessionOptions so;
      so.attention_precision = ov;
      auto s = Session::Create(b.model.get(), so);
      ASSERT_TRUE(s.ok()) << s.status().message();
      const bool int8 = ov == 1 || (ov < 0 && stored == fb::AttentionPrecision::INT8);
      EXPECT_EQ(std::string((*s)->kernel_name(0)).rfind(int8 ? "qs8_attention_" : "f32_attention_", 0), 0u)
          << (*s)->kernel_name(0) << " stored " << int(stored) << " override " << ov;
    }
    SessionOptions bad;
    bad.attention_precision = 7;
    auto s = Session::Create(b.model.get(), bad);
    ASSERT_FALSE(s.ok());
    EXPECT_NE(std::string(s.status().message()).find("unknown precision"), std::string::npos);
  }
}

TEST(DenseBinding, AttentionErrors) {
  ModelWriter w;
  const int qi = w.AddActivation("q", {1, 8, 64}), ki = w.AddActivation("k", {1, 8, 64}),
            vi = w.AddActivation("v", {1, 8, 64}), oi = w.AddActivation("o", {1, 8, 64});
  OpAttrs at;
  at.num_heads = 4;
  w.AddOp(fb::OpType::Attention, {qi, ki, vi}, {oi}, at, "attn");
  w.SetInputs({qi, ki, vi});
  w.SetOutputs({oi});
  // A density the file cannot hold (the loader bounds it to [0, 1]) comes
  // from the session's override.
  SessionOptions so;
  so.attention_density = std::numeric_limits<float>::infinity();
  ExpectPrepareError(w, StatusCode::kInvalidModel, "Attention: sparse density inf must be >= 0", so);
}

TEST(DenseBinding, RopeBothPairings) {
  for (bool inter : {false, true}) {
    const int64_t B = 2, N = 12, H = 3, dh = 16;
    std::vector<float> c(N * dh), s(N * dh);
    f32_rope_tables_1d(N, dh, 10000.0, inter, c.data(), s.data());
    std::vector<float> x = Rand(B * N * H * dh, 41);
    ModelWriter w;
    const int xi = w.AddActivation("x", {B, N, H * dh});
    const int ci = w.AddConstantF32("cos", {N, dh}, c);
    const int si = w.AddConstantF32("sin", {N, dh}, s);
    const int yi = w.AddActivation("y", {B, N, H * dh});
    OpAttrs at;
    at.num_heads = int(H);
    at.interleaved = inter;
    w.AddOp(fb::OpType::RoPE, {xi, ci, si}, {yi}, at, "rope");
    w.SetInputs({xi});
    w.SetOutputs({yi});
    Built b;
    ASSERT_TRUE(Build(w, &b));
    F32RopeParams p;
    p.batch = B; p.tokens = N; p.heads = H; p.head_dim = dh; p.interleaved = inter;
    std::vector<float> ref(x.size());
    f32_rope_ref(p, x.data(), c.data(), s.data(), ref.data());
    RunAndCompare(*b.model, {{xi, &x}}, yi, ref, "f32_rope");
  }
}

}  // namespace
}  // namespace edge
