// End-to-end tests of the non-GEMM F32 op bindings: one-op models built with
// ModelWriter, loaded with Model::LoadBuffer and run by a Session, compared
// with references written here; plus the prepare-time shape checks and the
// eval-time Embedding range check.
#include <cctype>
#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/session.h"
#include "runtime/writer/model_writer.h"

namespace edge {
namespace {

std::vector<float> Rand(size_t n, float lo, float hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

size_t Count(const std::vector<int64_t>& s) {
  size_t n = 1;
  for (auto d : s) n *= static_cast<size_t>(d);
  return n;
}

// A one-op graph: activations named in `inputs` become graph inputs, the
// op's outputs become graph outputs.
struct OneOp {
  ModelWriter w;
  std::vector<int> graph_inputs, outputs;
  std::vector<uint8_t> bytes;
  std::unique_ptr<Model> model;
  std::unique_ptr<Session> session;

  int Input(const std::vector<int64_t>& shape, fb::DType dt = fb::DType::F32) {
    const int t = w.AddActivation("in" + std::to_string(graph_inputs.size()), shape, dt);
    graph_inputs.push_back(t);
    return t;
  }
  int Const(const std::vector<int64_t>& shape, const std::vector<float>& v) {
    return w.AddConstantF32("c" + std::to_string(w.num_tensors()), shape, v);
  }
  int Output(const std::vector<int64_t>& shape, fb::DType dt = fb::DType::F32) {
    const int t = w.AddActivation("out" + std::to_string(outputs.size()), shape, dt);
    outputs.push_back(t);
    return t;
  }
  // Builds, loads and prepares; returns the Session::Create status.
  Status Build(fb::OpType type, const std::vector<int>& in, const OpAttrs& attrs = OpAttrs(),
               int threads = 1) {
    w.AddOp(type, in, outputs, attrs, "op");
    w.SetInputs(graph_inputs);
    w.SetOutputs(outputs);
    EDGE_RETURN_IF_ERROR(w.Finish(&bytes));
    auto m = Model::LoadBuffer(bytes.data(), bytes.size(), /*copy=*/true);
    if (!m.ok()) return m.status();
    model = std::move(m.value());
    SessionOptions so;
    so.num_threads = threads;
    auto s = Session::Create(model.get(), so);
    if (!s.ok()) return s.status();
    session = std::move(s.value());
    return Status::Ok();
  }
  // Unary `kind` on n floats.
  Status Build(fb::UnaryKind kind, int64_t n) {
    const int x = Input({n});
    Output({n});
    OpAttrs a;
    a.unary = kind;
    return Build(fb::OpType::Unary, {x}, a);
  }
  void Set(int i, const void* data) {
    const TensorInfo& t = model->tensor(graph_inputs[i]);
    ASSERT_TRUE(session->SetInput(graph_inputs[i], data, t.bytes).ok());
  }
  std::vector<float> Run(const std::vector<std::vector<float>>& ins, int out = 0) {
    for (size_t i = 0; i < ins.size(); ++i) Set(static_cast<int>(i), ins[i].data());
    Status st = session->Invoke();
    EXPECT_TRUE(st.ok()) << st.message();
    const TensorInfo& t = model->tensor(outputs[out]);
    const float* p = static_cast<const float*>(session->data(outputs[out]));
    return std::vector<float>(p, p + t.num_elements);
  }
};

#define ASSERT_BUILD(g, ...)                            \
  do {                                                  \
    Status st_ = (g).Build(__VA_ARGS__);                \
    ASSERT_TRUE(st_.ok()) << st_.message();             \
  } while (0)

void ExpectClose(const std::vector<float>& got, const std::vector<double>& ref, double tol,
                 const char* what) {
  ASSERT_EQ(got.size(), ref.size()) << what;
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_LE(std::fabs(got[i] - ref[i]), tol * std::max(1.0, std::fabs(ref[i]))) << what << " at " << i;
}

std::vector<double> LayerNormRef(const std::vector<float>& x, size_t cols, const float* g,
                                 const float* b, double eps, bool rms) {
  std::vector<double> y(x.size());
  for (size_t r = 0; r < x.size() / cols; ++r) {
    const float* xr = &x[r * cols];
    double mean = 0, var = 0;
    if (!rms) {
      for (size_t i = 0; i < cols; ++i) mean += xr[i];
      mean /= cols;
    }
    for (size_t i = 0; i < cols; ++i) var += (xr[i] - mean) * (xr[i] - mean);
    const double rstd = 1.0 / std::sqrt(var / cols + eps);
    for (size_t i = 0; i < cols; ++i)
      y[r * cols + i] = (xr[i] - mean) * rstd * (g ? g[i] : 1.0) + (b ? b[i] : 0.0);
  }
  return y;
}

TEST(ElementwiseBinding, LayerNormAndRMSNorm) {
  for (int threads : {1, 2}) {
    for (int affine = 0; affine < 2; ++affine) {
      const std::vector<int64_t> shape = {2, 300, 769};
      const std::vector<float> x = Rand(Count(shape), -2, 3, 1);
      const std::vector<float> g = Rand(769, 0.5, 1.5, 2), b = Rand(769, -1, 1, 3);
      OneOp op;
      const int xi = op.Input(shape);
      const int gi = affine ? op.Const({769}, g) : -1;
      const int bi = affine ? op.Const({769}, b) : -1;
      op.Output(shape);
      OpAttrs a;
      a.epsilon = 1e-6f;
      ASSERT_BUILD(op, fb::OpType::LayerNorm, {xi, gi, bi}, a, threads);
      EXPECT_EQ(std::string(op.session->kernel_name(0)).rfind("f32_layernorm", 0), 0u);
      ExpectClose(op.Run({x}), LayerNormRef(x, 769, affine ? g.data() : nullptr, affine ? b.data() : nullptr,
                                            1e-6, false), 1e-5, "layernorm");

      OneOp rms;
      const int rx = rms.Input(shape);
      const int rg = affine ? rms.Const({769}, g) : -1;
      rms.Output(shape);
      ASSERT_BUILD(rms, fb::OpType::RMSNorm, affine ? std::vector<int>{rx, rg} : std::vector<int>{rx}, a, threads);
      ExpectClose(rms.Run({x}), LayerNormRef(x, 769, affine ? g.data() : nullptr, nullptr, 1e-6, true), 1e-5,
                  "rmsnorm");
    }
  }
}

// GroupNorm with its fused affine and SiLU, rank 4 and rank 3 (the decoder's
// attention block normalizes [N, C, H*W]); Upsample by 2x2 and 3x1.
TEST(ElementwiseBinding, GroupNormAndUpsample) {
  for (int threads : {1, 2}) {
    for (const std::vector<int64_t>& shape : {std::vector<int64_t>{2, 32, 9, 7}, std::vector<int64_t>{1, 16, 20}}) {
      const size_t c = static_cast<size_t>(shape[1]), l = Count(shape) / c / static_cast<size_t>(shape[0]);
      const std::vector<float> x = Rand(Count(shape), -2, 3, 5);
      const std::vector<float> g = Rand(c, 0.5, 1.5, 6), b = Rand(c, -1, 1, 7);
      OneOp op;
      const int xi = op.Input(shape);
      const int gi = op.Const({static_cast<int64_t>(c)}, g), bi = op.Const({static_cast<int64_t>(c)}, b);
      op.Output(shape);
      OpAttrs a;
      a.groups = 4;
      a.epsilon = 1e-6f;
      a.activation = fb::Activation::SiLU;
      ASSERT_BUILD(op, fb::OpType::GroupNorm, {xi, gi, bi}, a, threads);
      EXPECT_EQ(std::string(op.session->kernel_name(0)).rfind("f32_groupnorm", 0), 0u);
      // Per group: the rows of LayerNormRef are whole groups; then affine, SiLU.
      const size_t glen = c / 4 * l;
      std::vector<double> ref = LayerNormRef(x, glen, nullptr, nullptr, 1e-6, false);
      for (size_t i = 0; i < ref.size(); ++i) {
        const size_t ch = i / l % c;
        const double v = ref[i] * g[ch] + b[ch];
        ref[i] = v / (1 + std::exp(-v));
      }
      ExpectClose(op.Run({x}), ref, 1e-5, "groupnorm");
    }
    for (int64_t fh : {2, 3}) {
      const int64_t fw = fh == 2 ? 2 : 1;
      const std::vector<int64_t> in = {1, 3, 5, 7}, out = {1, 3, 5 * fh, 7 * fw};
      const std::vector<float> x = Rand(Count(in), -1, 1, 8);
      OneOp op;
      const int xi = op.Input(in);
      op.Output(out);
      ASSERT_BUILD(op, fb::OpType::Upsample, {xi}, OpAttrs(), threads);
      std::vector<double> ref(Count(out));
      for (size_t i = 0; i < ref.size(); ++i) {
        const size_t ow = 7 * fw, oh = 5 * fh, xw = i % ow, yh = i / ow % oh, ch = i / ow / oh;
        ref[i] = x[(ch * 5 + yh / fh) * 7 + xw / fw];
      }
      ExpectClose(op.Run({x}), ref, 0, "upsample");
    }
  }
}

TEST(ElementwiseBinding, ModulateAndGatedResidual) {
  const int64_t B = 2, N = 17, D = 33;
  for (bool three_d : {false, true}) {
    const std::vector<int64_t> ps = three_d ? std::vector<int64_t>{B, 1, D} : std::vector<int64_t>{B, D};
    const std::vector<float> x = Rand(B * N * D, -3, 3, 4), sh = Rand(B * D, -1, 1, 5),
                             sc = Rand(B * D, -1, 1, 6), y = Rand(B * N * D, -3, 3, 7);
    OneOp m;
    const int xi = m.Input({B, N, D}), si = m.Input(ps), ci = m.Input(ps);
    m.Output({B, N, D});
    ASSERT_BUILD(m, fb::OpType::Modulate, {xi, si, ci});
    const std::vector<float> got = m.Run({x, sh, sc});
    std::vector<double> ref(got.size());
    for (size_t i = 0; i < ref.size(); ++i) {
      const size_t b = i / (N * D), d = i % D;
      ref[i] = (double)x[i] * (1.0 + sc[b * D + d]) + sh[b * D + d];
    }
    ExpectClose(got, ref, 1e-6, "modulate");

    OneOp g;
    const int gx = g.Input({B, N, D}), gg = g.Input(ps), gy = g.Input({B, N, D});
    g.Output({B, N, D});
    ASSERT_BUILD(g, fb::OpType::GatedResidual, {gx, gg, gy});
    const std::vector<float> got2 = g.Run({x, sc, y});
    for (size_t i = 0; i < ref.size(); ++i) {
      const size_t b = i / (N * D), d = i % D;
      ref[i] = (double)x[i] + (double)sc[b * D + d] * y[i];
    }
    ExpectClose(got2, ref, 1e-6, "gated residual");
  }
}

TEST(ElementwiseBinding, ActivationsAndUnary) {
  const std::vector<float> x = Rand(1000, -20, 20, 8);
  struct Case {
    fb::OpType type;
    bool tanh;
    fb::UnaryKind kind;
    double (*ref)(double);
  };
  const Case cases[] = {
      {fb::OpType::Gelu, false, fb::UnaryKind::Sigmoid, [](double v) { return 0.5 * v * std::erfc(-v / std::sqrt(2.0)); }},
      {fb::OpType::Gelu, true, fb::UnaryKind::Sigmoid,
       [](double v) { return v / (1 + std::exp(-2 * std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v))); }},
      {fb::OpType::SiLU, false, fb::UnaryKind::Sigmoid, [](double v) { return v / (1 + std::exp(-v)); }},
      {fb::OpType::Unary, false, fb::UnaryKind::Sigmoid, [](double v) { return 1 / (1 + std::exp(-v)); }},
      {fb::OpType::Unary, false, fb::UnaryKind::Tanh, [](double v) { return std::tanh(v); }},
      {fb::OpType::Unary, false, fb::UnaryKind::Erf, [](double v) { return std::erf(v); }},
      {fb::OpType::Unary, false, fb::UnaryKind::Neg, [](double v) { return -v; }},
      {fb::OpType::Unary, false, fb::UnaryKind::Abs, [](double v) { return std::fabs(v); }},
      {fb::OpType::Unary, false, fb::UnaryKind::Exp, [](double v) { return std::exp(v); }},
      {fb::OpType::Unary, false, fb::UnaryKind::Reciprocal, [](double v) { return 1 / v; }},
  };
  for (const Case& c : cases) {
    OneOp op;
    const int xi = op.Input({8, 125});
    op.Output({8, 125});
    OpAttrs a;
    a.approximate_tanh = c.tanh;
    a.unary = c.kind;
    ASSERT_BUILD(op, c.type, {xi}, a);
    const std::vector<float> got = op.Run({x});
    for (size_t i = 0; i < x.size(); ++i) {
      const double r = c.ref(x[i]);
      if (std::fabs(r) < 1e-30) continue;
      ASSERT_LE(std::fabs(got[i] - r) / std::fabs(r), 1e-5) << op.session->kernel_name(0) << " x=" << x[i];
    }
  }
  // Sqrt / Rsqrt on positive inputs.
  const std::vector<float> p = Rand(100, 1e-3f, 1e3f, 9);
  for (auto kind : {fb::UnaryKind::Sqrt, fb::UnaryKind::Rsqrt}) {
    OneOp op;
    ASSERT_BUILD(op, kind, 100);
    const std::vector<float> got = op.Run({p});
    for (size_t i = 0; i < p.size(); ++i) {
      const double r = kind == fb::UnaryKind::Sqrt ? std::sqrt((double)p[i]) : 1 / std::sqrt((double)p[i]);
      ASSERT_LE(std::fabs(got[i] - r) / r, 2e-7);
    }
  }
}

TEST(ElementwiseBinding, SoftmaxAnyAxis) {
  const std::vector<int64_t> shape = {2, 5, 7};
  const std::vector<float> x = Rand(70, -10, 10, 10);
  for (int axis : {-1, 1, 0}) {
    OneOp op;
    const int xi = op.Input(shape);
    op.Output(shape);
    OpAttrs a;
    a.axis = axis;
    ASSERT_BUILD(op, fb::OpType::Softmax, {xi}, a);
    const std::vector<float> got = op.Run({x});
    const int ax = axis < 0 ? 2 : axis;
    const size_t outer = ax == 0 ? 1 : (ax == 1 ? 2 : 10), len = shape[ax], inner = ax == 0 ? 35 : (ax == 1 ? 7 : 1);
    std::vector<double> ref(70);
    for (size_t o = 0; o < outer; ++o)
      for (size_t j = 0; j < inner; ++j) {
        double m = -INFINITY, s = 0;
        for (size_t k = 0; k < len; ++k) m = std::max(m, (double)x[(o * len + k) * inner + j]);
        for (size_t k = 0; k < len; ++k) s += std::exp(x[(o * len + k) * inner + j] - m);
        for (size_t k = 0; k < len; ++k) ref[(o * len + k) * inner + j] = std::exp(x[(o * len + k) * inner + j] - m) / s;
      }
    ExpectClose(got, ref, 1e-5, "softmax");
  }
}

TEST(ElementwiseBinding, BroadcastBinaries) {
  struct Case { fb::OpType type; std::vector<int64_t> a, b, out; };
  const Case cases[] = {
      {fb::OpType::Add, {2, 3, 4}, {4}, {2, 3, 4}},
      {fb::OpType::Mul, {2, 1, 4}, {1, 3, 1}, {2, 3, 4}},
      {fb::OpType::Sub, {5, 769}, {5, 769}, {5, 769}},
      {fb::OpType::Div, {3, 17}, {1}, {3, 17}},
  };
  for (const Case& c : cases) {
    OneOp op;
    const std::vector<float> a = Rand(Count(c.a), -3, 3, 11), b = Rand(Count(c.b), 0.5, 2, 12);
    const int ai = op.Input(c.a);
    const int bi = op.Const(c.b, b);  // second operand as a constant
    op.Output(c.out);
    ASSERT_BUILD(op, c.type, {ai, bi});
    const std::vector<float> got = op.Run({a});
    const int r = static_cast<int>(c.out.size());
    for (size_t i = 0; i < got.size(); ++i) {
      size_t rem = i, ia = 0, ib = 0, sa = 1, sb = 1;
      for (int d = r - 1; d >= 0; --d) {
        const size_t idx = rem % c.out[d];
        rem /= c.out[d];
        const int da = d - (r - (int)c.a.size()), db = d - (r - (int)c.b.size());
        if (da >= 0) { if (c.a[da] != 1) ia += idx * sa; sa *= c.a[da]; }
        if (db >= 0) { if (c.b[db] != 1) ib += idx * sb; sb *= c.b[db]; }
      }
      float want = 0;
      switch (c.type) {
        case fb::OpType::Add: want = a[ia] + b[ib]; break;
        case fb::OpType::Sub: want = a[ia] - b[ib]; break;
        case fb::OpType::Mul: want = a[ia] * b[ib]; break;
        default: want = a[ia] / b[ib]; break;
      }
      ASSERT_EQ(got[i], want) << fb::EnumNameOpType(c.type) << " at " << i;
    }
  }
}

TEST(ElementwiseBinding, LayoutOps) {
  const std::vector<float> x = Rand(2 * 6 * 4 * 8, -1, 1, 13);
  {  // Transpose [B,N,H,dh] -> [B,H,N,dh]
    OneOp op;
    const int xi = op.Input({2, 6, 4, 8});
    op.Output({2, 4, 6, 8});
    OpAttrs a;
    a.perm = {0, 2, 1, 3};
    ASSERT_BUILD(op, fb::OpType::Transpose, {xi}, a);
    const std::vector<float> got = op.Run({x});
    for (int b = 0; b < 2; ++b)
      for (int h = 0; h < 4; ++h)
        for (int n = 0; n < 6; ++n)
          for (int d = 0; d < 8; ++d)
            ASSERT_EQ(got[((b * 4 + h) * 6 + n) * 8 + d], x[((b * 6 + n) * 4 + h) * 8 + d]);
  }
  {  // Reshape and Copy
    for (auto type : {fb::OpType::Reshape, fb::OpType::Copy}) {
      OneOp op;
      const int xi = op.Input({2, 6, 4, 8});
      op.Output(type == fb::OpType::Reshape ? std::vector<int64_t>{12, 32} : std::vector<int64_t>{2, 6, 4, 8});
      ASSERT_BUILD(op, type, {xi});
      EXPECT_EQ(op.Run({x}), x);
    }
  }
  {  // Concat along axis 1 of [2, a, 8]
    OneOp op;
    const int i0 = op.Input({2, 3, 8});
    const int i1 = op.Input({2, 5, 8});
    op.Output({2, 8, 8});
    OpAttrs a;
    a.axis = 1;
    ASSERT_BUILD(op, fb::OpType::Concat, {i0, i1}, a);
    const std::vector<float> p0(x.begin(), x.begin() + 48), p1(x.begin() + 48, x.begin() + 128);
    const std::vector<float> got = op.Run({p0, p1});
    for (int b = 0; b < 2; ++b)
      for (int r = 0; r < 8; ++r)
        for (int d = 0; d < 8; ++d)
          ASSERT_EQ(got[(b * 8 + r) * 8 + d], r < 3 ? p0[(b * 3 + r) * 8 + d] : p1[(b * 5 + r - 3) * 8 + d]);
  }
  {  // Split the last axis 32 -> 8 + 24
    OneOp op;
    const int xi = op.Input({12, 32});
    op.Output({12, 8});
    op.Output({12, 24});
    OpAttrs a;
    a.axis = -1;
    ASSERT_BUILD(op, fb::OpType::Split, {xi}, a);
    const std::vector<float> o0 = op.Run({x}, 0), o1 = op.Run({x}, 1);
    for (int r = 0; r < 12; ++r) {
      for (int d = 0; d < 8; ++d) ASSERT_EQ(o0[r * 8 + d], x[r * 32 + d]);
      for (int d = 0; d < 24; ++d) ASSERT_EQ(o1[r * 24 + d], x[r * 32 + 8 + d]);
    }
  }
  {  // Slice with a negative step: rows reversed, every other column from 1
    OneOp op;
    const int xi = op.Input({12, 32});
    op.Output({12, 16});
    OpAttrs a;
    a.starts = {-1, 1};
    a.steps = {-1, 2};
    ASSERT_BUILD(op, fb::OpType::Slice, {xi}, a);
    const std::vector<float> got = op.Run({x});
    for (int r = 0; r < 12; ++r)
      for (int c = 0; c < 16; ++c) ASSERT_EQ(got[r * 16 + c], x[(11 - r) * 32 + 1 + 2 * c]);
  }
}

TEST(ElementwiseBinding, TimestepEmbedding) {
  const std::vector<float> t = {0.f, 1.f, 250.5f, 999.f};
  for (bool cos_first : {true, false}) {
    OneOp op;
    const int ti = op.Input({4});
    op.Output({4, 256});
    OpAttrs a;
    a.dim = 256;
    a.cos_first = cos_first;
    ASSERT_BUILD(op, fb::OpType::TimestepEmbedding, {ti}, a);
    const std::vector<float> got = op.Run({t});
    for (int b = 0; b < 4; ++b)
      for (int i = 0; i < 128; ++i) {
        const long double arg = (long double)t[b] * expl(-logl(10000.0L) * i / 128.0L);
        const double c = (double)cosl(arg), s = (double)sinl(arg);
        ASSERT_NEAR(got[b * 256 + i], cos_first ? c : s, 2e-7);
        ASSERT_NEAR(got[b * 256 + 128 + i], cos_first ? s : c, 2e-7);
      }
  }
}

TEST(ElementwiseBinding, EmbeddingLookupAndOutOfRange) {
  const std::vector<float> table = Rand(1001 * 6, -1, 1, 14);
  for (auto dt : {fb::DType::I32, fb::DType::I64}) {
    OneOp op;
    const int ids = op.Input({2, 2}, dt);
    const int tab = op.Const({1001, 6}, table);
    op.Output({2, 2, 6});
    ASSERT_BUILD(op, fb::OpType::Embedding, {ids, tab});
    auto set_ids = [&](const std::vector<int64_t>& v) {
      if (dt == fb::DType::I64) {
        op.Set(0, v.data());
      } else {
        std::vector<int32_t> v32(v.begin(), v.end());
        op.Set(0, v32.data());
      }
    };
    set_ids({0, 1000, 17, 3});
    ASSERT_TRUE(op.session->Invoke().ok());
    const float* out = static_cast<const float*>(op.session->data(op.outputs[0]));
    const int64_t want[4] = {0, 1000, 17, 3};
    for (int i = 0; i < 4; ++i)
      for (int d = 0; d < 6; ++d) ASSERT_EQ(out[i * 6 + d], table[want[i] * 6 + d]);
    set_ids({0, 1234, 1, 2});
    Status st = op.session->Invoke();
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(std::string(st.message()).find("Embedding: id 1234 out of range [0, 1001)"), std::string::npos)
        << st.message();
    set_ids({-1, 0, 0, 0});
    EXPECT_EQ(op.session->Invoke().code(), StatusCode::kInvalidArgument);
  }
}

// Shape mistakes are caught at prepare with kInvalidModel naming the op.
TEST(ElementwiseBinding, PrepareRejectsBadShapes) {
  auto expect_invalid = [](OneOp& op, fb::OpType type, const std::vector<int>& in, const OpAttrs& a,
                           const char* needle) {
    Status st = op.Build(type, in, a);
    EXPECT_EQ(st.code(), StatusCode::kInvalidModel) << st.message();
    EXPECT_NE(std::string(st.message()).find(needle), std::string::npos) << st.message();
  };
  {
    OneOp op;
    const int a = op.Input({2, 3}), b = op.Input({4});
    op.Output({2, 3});
    expect_invalid(op, fb::OpType::Add, {a, b}, OpAttrs(), "do not broadcast");
  }
  {
    OneOp op;
    const int a = op.Input({2, 3}), b = op.Input({3});
    op.Output({2, 4});
    expect_invalid(op, fb::OpType::Mul, {a, b}, OpAttrs(), "is not the broadcast");
  }
  {
    OneOp op;
    const int x = op.Input({4, 8});
    const int g = op.Const({7}, std::vector<float>(7, 1.f));
    op.Output({4, 8});
    expect_invalid(op, fb::OpType::LayerNorm, {x, g, -1}, OpAttrs(), "gamma");
  }
  {
    OneOp op;
    const int x = op.Input({1, 6, 4, 4});
    op.Output({1, 6, 4, 4});
    OpAttrs a;
    a.groups = 4;
    expect_invalid(op, fb::OpType::GroupNorm, {x}, a, "do not split into 4 groups");
  }
  {
    OneOp op;
    const int x = op.Input({1, 6, 4, 4});
    const int g = op.Const({3}, std::vector<float>(3, 1.f));
    op.Output({1, 6, 4, 4});
    OpAttrs a;
    a.groups = 3;
    expect_invalid(op, fb::OpType::GroupNorm, {x, g}, a, "gamma");
  }
  {
    OneOp op;
    const int x = op.Input({1, 2, 3, 4});
    op.Output({1, 2, 6, 7});
    expect_invalid(op, fb::OpType::Upsample, {x}, OpAttrs(), "integer factors");
  }
  {
    OneOp op;
    const int x = op.Input({1, 2, 3, 4});
    op.Output({1, 4, 6, 8});
    expect_invalid(op, fb::OpType::Upsample, {x}, OpAttrs(), "integer factors");
  }
  {
    OneOp op;
    const int x = op.Input({4, 8});
    op.Output({5, 8});
    expect_invalid(op, fb::OpType::Reshape, {x}, OpAttrs(), "elements");
  }
  {
    OneOp op;
    const int x = op.Input({4, 8});
    op.Output({4, 5});
    OpAttrs a;
    a.starts = {0, 4};
    a.steps = {1, 1};
    expect_invalid(op, fb::OpType::Slice, {x}, a, "axis 1");
  }
  {
    OneOp op;
    const int x = op.Input({4, 8});
    op.Output({4, 3});
    OpAttrs a;
    a.starts = {0, 0};
    a.steps = {1, -1};
    expect_invalid(op, fb::OpType::Slice, {x}, a, "outside");
  }
  {
    OneOp op;
    const int a = op.Input({2, 3}), b = op.Input({2, 4});
    op.Output({2, 8});
    OpAttrs at;
    at.axis = 1;
    expect_invalid(op, fb::OpType::Concat, {a, b}, at, "add up");
  }
  {
    OneOp op;
    const int x = op.Input({2, 3, 4});
    op.Output({2, 3, 4});
    OpAttrs a;
    a.perm = {0, 0, 1};
    expect_invalid(op, fb::OpType::Transpose, {x}, a, "permutation");
  }
  {
    OneOp op;
    const int x = op.Input({2, 5, 8}), s = op.Input({3, 8}), c = op.Input({3, 8});
    op.Output({2, 5, 8});
    expect_invalid(op, fb::OpType::Modulate, {x, s, c}, OpAttrs(), "shift");
  }
  {
    OneOp op;
    const int x = op.Input({2, 5}, fb::DType::I32);
    op.Output({2, 5});
    expect_invalid(op, fb::OpType::Gelu, {x}, OpAttrs(), "dtype");
  }
}

// The Unary binding maps UnaryKind onto F32Unary by position: every kind
// must run the function of its own name.
TEST(ElementwiseBinding, UnaryKindsRunTheirOwnFunction) {
  for (int k = 0; k <= static_cast<int>(fb::UnaryKind::MAX); ++k) {
    const fb::UnaryKind kind = static_cast<fb::UnaryKind>(k);
    OneOp op;
    ASSERT_BUILD(op, kind, 4);
    std::string want = std::string("f32_") + fb::EnumNameUnaryKind(kind) + "_";
    for (char& ch : want) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    EXPECT_EQ(std::string(op.session->kernel_name(0)).rfind(want, 0), 0u)
        << fb::EnumNameUnaryKind(kind) << " runs " << op.session->kernel_name(0);
  }
}

}  // namespace
}  // namespace edge
