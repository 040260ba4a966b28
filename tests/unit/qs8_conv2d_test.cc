// INT8 Conv2d (ops/qs8_conv2d.h, edge-convert --conv-precision int8) for
// every quantized GEMM variant this CPU runs: against the double reference
// (dequantized weights, per-row quantized activations), bit for bit against
// the GEMM oracle on the explicit im2col matrix, and the same bits for 1, 2
// and 3 threads; on random and adversarial shapes (odd sizes, groups,
// stride, padding, dilation, 1x1, PatchEmbed, channel counts off the tiles)
// and values (zeros, one large outlier). Then the Conv2d binding end to end
// on a model with an INT8 weight as the converter writes it.
#include <gtest/gtest.h>

#include <pthreadpool.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "ops/cpu_features.h"
#include "ops/f32_conv2d.h"
#include "ops/kernel_config.h"
#include "ops/qs8_conv2d.h"
#include "ops/quant_gemm.h"
#include "runtime/model.h"
#include "runtime/quant_linear.h"
#include "runtime/session.h"
#include "runtime/writer/model_writer.h"
#include "tests/unit/test_util.h"

namespace edge {
namespace {

using test_util::AlignedBuffer;

struct Shape {
  size_t b, c, h, w, o, kh, kw, sh, sw, pt, pl, pb, pr, dh, dw, g;
};

F32Conv2dParams ParamsOf(const Shape& s) {
  F32Conv2dParams p;
  p.batch = s.b; p.in_c = s.c; p.in_h = s.h; p.in_w = s.w; p.out_c = s.o;
  p.kernel_h = s.kh; p.kernel_w = s.kw; p.stride_h = s.sh; p.stride_w = s.sw;
  p.pad_top = s.pt; p.pad_left = s.pl; p.dilation_h = s.dh; p.dilation_w = s.dw;
  p.groups = s.g;
  p.out_h = f32_conv2d_out_size(s.h, s.kh, s.sh, s.pt, s.pb, s.dh);
  p.out_w = f32_conv2d_out_size(s.w, s.kw, s.sw, s.pl, s.pr, s.dw);
  return p;
}

enum class Values { kRandom, kZeroInput, kZeroWeights, kInputOutlier, kWeightOutlier };

std::vector<float> Uniform(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1.f, 1.f);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

// Under an emulator the CPU detection may see the host; EDGE_TEST_ALL_VARIANTS=1
// runs every compiled variant (as tests/unit/quant_gemm_test.cc).
bool Runs(const QGemmKernel& k) {
  const char* all = std::getenv("EDGE_TEST_ALL_VARIANTS");
  return (all != nullptr && all[0] == '1') || k.supported(DetectCpuFeatures());
}

// A convolution's data: x, the weight quantized per output channel, bias.
struct ConvData {
  F32Conv2dParams p;
  std::vector<float> x, w, bias, scale;
  std::vector<int8_t> q;
};

ConvData MakeData(const Shape& s, Values v, uint32_t seed) {
  ConvData d;
  d.p = ParamsOf(s);
  const size_t kg = s.c / s.g * s.kh * s.kw;
  d.x = Uniform(s.b * s.c * s.h * s.w, seed);
  d.w = Uniform(s.o * kg, seed + 1);
  d.bias = Uniform(s.o, seed + 2);
  if (v == Values::kZeroInput) std::fill(d.x.begin(), d.x.end(), 0.f);
  if (v == Values::kZeroWeights) std::fill(d.w.begin(), d.w.end(), 0.f);
  if (v == Values::kInputOutlier) d.x[d.x.size() / 3] = 3.0e4f;
  if (v == Values::kWeightOutlier) d.w[d.w.size() / 2] = -500.f;
  d.q.resize(d.w.size());
  d.scale.resize(s.o);
  EXPECT_TRUE(QuantizeInt8PerChannel(d.w.data(), s.o, kg, d.q.data(), d.scale.data()).ok());
  return d;
}

// The GEMM oracle on the explicit im2col matrix, written in NCHW: what every
// variant must give bit for bit.
std::vector<float> GemmOracle(const ConvData& d) {
  const F32Conv2dParams& p = d.p;
  const size_t cg = p.in_c / p.groups, og = p.out_c / p.groups, kg = cg * p.kernel_h * p.kernel_w;
  const size_t pixels = p.out_h * p.out_w;
  std::vector<float> out(p.batch * p.out_c * pixels), col(pixels * kg), y(pixels * og);
  for (size_t b = 0; b < p.batch; ++b) {
    for (size_t g = 0; g < p.groups; ++g) {
      for (size_t px = 0; px < pixels; ++px) {
        const size_t oy = px / p.out_w, ox = px % p.out_w;
        size_t k = 0;
        for (size_t c = 0; c < cg; ++c)
          for (size_t ky = 0; ky < p.kernel_h; ++ky)
            for (size_t kx = 0; kx < p.kernel_w; ++kx, ++k) {
              const long iy = long(oy * p.stride_h + ky * p.dilation_h) - long(p.pad_top);
              const long ix = long(ox * p.stride_w + kx * p.dilation_w) - long(p.pad_left);
              const bool in = iy >= 0 && ix >= 0 && iy < long(p.in_h) && ix < long(p.in_w);
              col[px * kg + k] = in ? d.x[((b * p.in_c + g * cg + c) * p.in_h + iy) * p.in_w + ix] : 0.f;
            }
      }
      Qs8GemmRef(col.data(), pixels, kg, d.q.data() + g * og * kg, d.scale.data() + g * og,
                 d.bias.data() + g * og, og, y.data());
      for (size_t o = 0; o < og; ++o)
        for (size_t px = 0; px < pixels; ++px) out[(b * p.out_c + g * og + o) * pixels + px] = y[px * og + o];
    }
  }
  return out;
}

std::vector<float> RunOp(const QGemmKernel& k, const ConvData& d, size_t threads) {
  std::vector<uint8_t> buffer(qs8_conv2d_weight_bytes(d.p));
  Qs8Conv2dWeights w;
  qs8_conv2d_pack_weights(d.p, d.q.data(), d.scale.data(), d.bias.data(), buffer.data(), &w);
  AlignedBuffer scratch(qs8_conv2d_scratch_bytes(k, d.p, threads));
  std::vector<float> y(d.p.batch * d.p.out_c * d.p.out_h * d.p.out_w, -7.f);
  pthreadpool_t pool = threads > 1 ? pthreadpool_create(threads) : nullptr;
  qs8_conv2d(k, d.p, threads, d.x.data(), w, y.data(), scratch.data(), pool);
  if (pool != nullptr) pthreadpool_destroy(pool);
  return y;
}

const Shape kShapes[] = {
    {1, 4, 16, 16, 24, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 1},   // PatchEmbed p=2
    {2, 3, 17, 13, 40, 4, 4, 4, 4, 0, 0, 0, 0, 1, 1, 1},   // patch, ragged edge dropped
    {1, 5, 9, 11, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},     // 3x3 same padding, K = 45
    {2, 6, 12, 10, 8, 3, 3, 2, 2, 1, 0, 2, 1, 2, 2, 2},    // stride 2, dilation 2, groups 2
    {1, 8, 7, 7, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 8},      // depthwise (K = 9, Og = 1)
    {1, 33, 5, 6, 17, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1},    // 1x1, channels off the tiles
    {1, 2, 1, 1, 3, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1},      // single pixel
    {1, 40, 37, 29, 24, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},  // decoder-like: many chunks
    {2, 9, 23, 31, 5, 3, 3, 1, 1, 2, 0, 0, 2, 1, 1, 1},    // uneven padding, batch 2
    {1, 6, 8, 9, 18, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 3},     // stride 2 with groups 3 (Og = 6)
};

TEST(Qs8Conv2d, EveryVariantMatchesTheReferencesAndThreadCounts) {
  const QGemmKernel* const* list = nullptr;
  const size_t n = Qs8GemmVariants(&list);
  uint32_t seed = 700;
  for (size_t vi = 0; vi < n; ++vi) {
    const QGemmKernel& k = *list[vi];
    if (!Runs(k)) continue;
    for (const Shape& s : kShapes) {
      for (Values v : {Values::kRandom, Values::kZeroInput, Values::kZeroWeights, Values::kInputOutlier,
                       Values::kWeightOutlier}) {
        const ConvData d = MakeData(s, v, seed += 3);
        ASSERT_GT(d.p.out_h * d.p.out_w, 0u);
        const std::string what = std::string(k.name) + " c" + std::to_string(s.c) + " o" + std::to_string(s.o) +
                                 " k" + std::to_string(s.kh) + " g" + std::to_string(s.g) + " values " +
                                 std::to_string(static_cast<int>(v));
        std::vector<float> ref(d.p.batch * d.p.out_c * d.p.out_h * d.p.out_w);
        qs8_conv2d_ref(d.p, d.x.data(), d.q.data(), d.scale.data(), d.bias.data(), ref.data());
        const std::vector<float> oracle = GemmOracle(d);
        const std::vector<float> one = RunOp(k, d, 1);
        // float(acc) and one fma against a double sum: a few ulp of the largest output.
        EXPECT_LE(test_util::RelMax(ref, one), 2e-6) << what;
        EXPECT_TRUE(test_util::SameBits(one, oracle)) << what << ": not the GEMM oracle's bits";
        for (size_t threads : {2, 3}) EXPECT_TRUE(test_util::SameBits(one, RunOp(k, d, threads))) << what << " threads " << threads;
      }
    }
  }
}

TEST(Qs8Conv2d, ZeroInputGivesTheBias) {
  const ConvData d = MakeData(kShapes[2], Values::kZeroInput, 11);
  const std::vector<float> y = RunOp(*kernel_config().qs8_gemm, d, 1);
  const size_t pixels = d.p.out_h * d.p.out_w;
  for (size_t o = 0; o < d.p.out_c; ++o)
    for (size_t px = 0; px < pixels; ++px) ASSERT_EQ(y[o * pixels + px], d.bias[o]) << o << " " << px;
}

TEST(Qs8Conv2d, KernelNamesCarryTheGemmTile) {
  const QGemmKernel* const* list = nullptr;
  const size_t n = Qs8GemmVariants(&list);
  for (size_t i = 0; i < n; ++i) {
    const std::string tile = std::string(list[i]->name).substr(std::strlen("qs8_gemm_"));
    EXPECT_EQ("qs8_conv2d_im2col_gemm_" + tile, qs8_conv2d_kernel_name(*list[i], false));
    EXPECT_EQ("qs8_conv2d_patchify_gemm_" + tile, qs8_conv2d_kernel_name(*list[i], true));
  }
}

// One Conv2d with an INT8 weight stored as edge-convert --conv-precision int8
// writes it (row-major OIHW, FP32 scales [O], FP32 bias).
struct Int8ConvModel {
  ConvData d;
  std::vector<uint8_t> bytes;
  std::unique_ptr<Model> model;
  int x = -1, y = -1;
};

void BuildInt8Conv(const Shape& s, Int8ConvModel* m) {
  m->d = MakeData(s, Values::kRandom, 90);
  const F32Conv2dParams& p = m->d.p;
  OpAttrs at;
  at.kernel_h = int(s.kh); at.kernel_w = int(s.kw);
  at.stride_h = int(s.sh); at.stride_w = int(s.sw);
  at.pad_top = int(s.pt); at.pad_left = int(s.pl); at.pad_bottom = int(s.pb); at.pad_right = int(s.pr);
  at.dilation_h = int(s.dh); at.dilation_w = int(s.dw);
  at.groups = int(s.g);
  ModelWriter w;
  m->x = w.AddActivation("x", {int64_t(s.b), int64_t(s.c), int64_t(s.h), int64_t(s.w)});
  const int wi = w.AddInt8PerChannel("w", {int64_t(s.o), int64_t(s.c / s.g), int64_t(s.kh), int64_t(s.kw)},
                                     m->d.q.data(), m->d.q.size(), m->d.scale);
  const int bi = w.AddConstantF32("b", {int64_t(s.o)}, m->d.bias);
  m->y = w.AddActivation("y", {int64_t(s.b), int64_t(s.o), int64_t(p.out_h), int64_t(p.out_w)});
  w.AddOp(fb::OpType::Conv2d, {m->x, wi, bi}, {m->y}, at, "conv");
  w.SetInputs({m->x});
  w.SetOutputs({m->y});
  ASSERT_TRUE(w.Finish(&m->bytes).ok());
  auto model = Model::LoadBuffer(m->bytes.data(), m->bytes.size(), /*copy=*/true);
  ASSERT_TRUE(model.ok()) << model.status().message();
  m->model = std::move(model.value());
}

// Runs the model once; returns y and the op's kernel name.
std::vector<float> RunModel(const Int8ConvModel& m, const SessionOptions& so, std::string* kernel) {
  auto s = Session::Create(m.model.get(), so);
  EXPECT_TRUE(s.ok()) << s.status().message();
  if (!s.ok()) return {};
  EXPECT_TRUE((*s)->SetInput(m.x, m.d.x.data(), m.d.x.size() * sizeof(float)).ok());
  EXPECT_TRUE((*s)->Invoke().ok());
  const size_t n = m.d.p.batch * m.d.p.out_c * m.d.p.out_h * m.d.p.out_w;
  const float* y = static_cast<const float*>((*s)->data(m.y));
  *kernel = (*s)->kernel_name(0);
  return std::vector<float>(y, y + n);
}

TEST(Qs8Conv2d, BindingRunsStoredInt8Weights) {
  const std::string tile = std::string(kernel_config().qs8_gemm->name).substr(std::strlen("qs8_gemm_"));
  for (const Shape& s : {kShapes[0], kShapes[3], kShapes[5], kShapes[7]}) {
    Int8ConvModel m;
    BuildInt8Conv(s, &m);
    ASSERT_NE(m.model, nullptr);
    std::vector<float> ref(m.d.p.batch * m.d.p.out_c * m.d.p.out_h * m.d.p.out_w);
    qs8_conv2d_ref(m.d.p, m.d.x.data(), m.d.q.data(), m.d.scale.data(), m.d.bias.data(), ref.data());
    const bool patch = f32_conv2d_is_patchify(m.d.p);
    std::vector<float> first;
    for (int threads : {1, 2}) {
      SessionOptions so;
      so.num_threads = threads;
      std::string kernel;
      const std::vector<float> y = RunModel(m, so, &kernel);
      EXPECT_EQ(kernel, (patch ? "qs8_conv2d_patchify_gemm_" : "qs8_conv2d_im2col_gemm_") + tile);
      EXPECT_LE(test_util::RelMax(ref, y), 2e-6) << kernel << " threads " << threads;
      if (threads == 1) first = y;
      EXPECT_TRUE(test_util::SameBits(first, y)) << kernel << " threads " << threads;
    }
    // The fp32 override dequantizes the weight once and runs the F32 path.
    SessionOptions so;
    so.precision = PrecisionOverride::kFp32;
    std::string kernel;
    const std::vector<float> y = RunModel(m, so, &kernel);
    std::vector<float> wdeq(m.d.q.size()), fref(ref.size());
    const size_t kg = m.d.q.size() / m.d.p.out_c;
    for (size_t i = 0; i < wdeq.size(); ++i) wdeq[i] = m.d.q[i] * m.d.scale[i / kg];
    f32_conv2d_ref(m.d.p, m.d.x.data(), wdeq.data(), m.d.bias.data(), fref.data());
    EXPECT_EQ(std::string(kernel).rfind("qs8_", 0), std::string::npos) << kernel;
    EXPECT_LE(test_util::RelMax(fref, y), 1e-5) << kernel;
  }
}

}  // namespace
}  // namespace edge
