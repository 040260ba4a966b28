// Error-feedback rounding (converter/gptq.h) against the plain quantizer and
// against its own report:
//   * with uncorrelated inputs (H diagonal) no error is pushed anywhere, so
//     the bytes equal the nearest rounding's, for INT8 and NVFP4;
//   * with correlated inputs (low-rank activations plus noise, outlier
//     channels) the layer's output error on those inputs, recomputed here
//     from the packed weights through the format's own decoder, is below the
//     nearest rounding's and equals the reported figure; every code is a
//     valid code of the format;
//   * odd shapes (K not a multiple of 16, a dead input channel) and
//     determinism.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "converter/gptq.h"
#include "converter/ir.h"
#include "converter/quantize.h"
#include "ops/quant_format.h"

namespace edge {
namespace conv {
namespace {

struct Layer {
  Graph g;
  LinearLayer l;
  std::vector<float> w;
};

std::unique_ptr<Layer> MakeLayer(int64_t N, int64_t K, uint32_t seed) {
  auto L = std::make_unique<Layer>();
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.f, 0.05f);
  auto t = std::make_shared<Tensor>();
  t->dtype = kFloat;
  t->shape = {N, K};
  t->f.resize(static_cast<size_t>(N * K));
  for (float& v : t->f) v = nd(rng);
  t->f[3] = 0.4f;  // an outlier weight
  L->w = t->f;
  L->l.weight_value = L->g.AddConstValue("w", t);
  L->l.name = "fc";
  L->l.weight = "w";
  L->l.N = N;
  L->l.K = K;
  return L;
}

// Input rows: rank-r structure plus small noise, channel `dead` always 0,
// channel 1 an outlier with 20x the scale.
std::vector<float> Inputs(int64_t M, int64_t K, int rank, int64_t dead, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.f, 1.f);
  std::vector<float> basis(static_cast<size_t>(rank * K));
  for (float& v : basis) v = nd(rng);
  std::vector<float> x(static_cast<size_t>(M * K));
  for (int64_t m = 0; m < M; ++m) {
    for (int64_t k = 0; k < K; ++k) x[m * K + k] = 0.05f * nd(rng);
    for (int r = 0; r < rank; ++r) {
      const float c = nd(rng);
      for (int64_t k = 0; k < K; ++k) x[m * K + k] += c * basis[r * K + k];
    }
    x[m * K + 1] *= 20.f;
    if (dead >= 0) x[m * K + dead] = 0.f;
  }
  return x;
}

InputGram GramOf(const std::vector<float>& x, int64_t M, int64_t K) {
  InputGram g;
  g.K = K;
  g.rows = M;
  g.h.assign(static_cast<size_t>(K * K), 0.0);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t i = 0; i < K; ++i)
      for (int64_t j = 0; j < K; ++j) g.h[i * K + j] += double(x[m * K + i]) * x[m * K + j];
  return g;
}

std::vector<float> Decode(const QuantWeight& q) {
  const QuantFormatTraits& f = QuantFormatOf(static_cast<QuantFormat>(q.precision));
  std::vector<float> w(static_cast<size_t>(q.N * q.K));
  f.dequantize_packed(q.data.data(), q.scales.data(), q.tensor_scale, q.N, q.K, w.data());
  return w;
}

// sum over inputs of |(W - Q) x|^2 / sum |W x|^2.
double OutputError(const std::vector<float>& w, const std::vector<float>& wq, const std::vector<float>& x,
                   int64_t M, int64_t N, int64_t K) {
  double e = 0, d = 0;
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      double y = 0, yq = 0;
      for (int64_t k = 0; k < K; ++k) {
        y += double(w[n * K + k]) * x[m * K + k];
        yq += double(wq[n * K + k]) * x[m * K + k];
      }
      e += (y - yq) * (y - yq);
      d += y * y;
    }
  return e / d;
}

InputGram ZeroGram(int64_t K) {
  InputGram g;
  g.K = K;
  g.h.assign(static_cast<size_t>(K * K), 0.0);
  return g;
}

void CheckCorrelated(const Layer& L, Precision p, bool act, const std::vector<float>& x, const InputGram& g,
                     int64_t M);

class GptqTest : public ::testing::TestWithParam<Precision> {};

TEST_P(GptqTest, DiagonalStatisticsGiveTheNearestBytes) {
  const Precision p = GetParam();
  auto L = MakeLayer(20, 40, 1);
  InputGram g = ZeroGram(40);
  for (int k = 0; k < 40; ++k) g.h[k * 40 + k] = 1.0 + k;  // uncorrelated, unequal
  for (bool act : {true, false}) {
    SCOPED_TRACE(act ? "act order" : "natural order");
    QuantOptions o;
    o.gptq_act_order = act;
    GptqReport rep;
    QuantWeightPtr q = QuantizeWeightGptq(L->g, L->l, p, o, g, &rep);
    QuantWeightPtr ref = QuantizeWeight(L->g, L->l, p, o.scale_search);
    EXPECT_EQ(q->data, ref->data);
    EXPECT_EQ(q->scales, ref->scales);
    EXPECT_EQ(q->tensor_scale, ref->tensor_scale);
    EXPECT_NEAR(rep.proxy_gptq, rep.proxy_nearest, 1e-12);
  }
}

TEST_P(GptqTest, CorrelatedInputsLowerTheOutputError) {
  const Precision p = GetParam();
  for (int64_t K : {48, 37, 130}) {
    const int64_t N = 24, M = 600;
    auto L = MakeLayer(N, K, 2 + static_cast<uint32_t>(K));
    const std::vector<float> x = Inputs(M, K, 6, K - 2, 7);
    const InputGram g = GramOf(x, M, K);
    for (bool act : {true, false}) {
      SCOPED_TRACE(act ? "act order" : "natural order");
      CheckCorrelated(*L, p, act, x, g, M);
    }
  }
}

void CheckCorrelated(const Layer& L, Precision p, bool act, const std::vector<float>& x, const InputGram& g,
                     int64_t M) {
  const int64_t N = L.l.N, K = L.l.K;
  QuantOptions o;
  o.gptq_act_order = act;
  GptqReport rep;
  QuantWeightPtr q = QuantizeWeightGptq(L.g, L.l, p, o, g, &rep);
  QuantWeightPtr ref = QuantizeWeight(L.g, L.l, p, o.scale_search);
  ASSERT_TRUE(rep.used) << "K=" << K;
  const double e_gptq = OutputError(L.w, Decode(*q), x, M, N, K);
  const double e_near = OutputError(L.w, Decode(*ref), x, M, N, K);
  EXPECT_LT(e_gptq, 0.7 * e_near) << "K=" << K;
  EXPECT_NEAR(e_gptq, rep.proxy_gptq, 1e-6 + 1e-6 * e_gptq) << "K=" << K;
  EXPECT_NEAR(e_near, rep.proxy_nearest, 1e-6 + 1e-6 * e_near) << "K=" << K;
  // Valid codes: INT8 within [-127, 127] (as the kernels assume), NVFP4
  // block scales finite E4M3 (never the NaN codes).
  if (p == Precision::kInt8) {
    for (uint8_t b : q->data) EXPECT_NE(static_cast<int8_t>(b), -128);
  } else {
    for (uint8_t s : q->scales) EXPECT_NE(s & 0x7F, 0x7F);
  }
  // Same input, same bytes.
  QuantWeightPtr again = QuantizeWeightGptq(L.g, L.l, p, o, g, nullptr);
  EXPECT_EQ(again->data, q->data);
  EXPECT_EQ(again->scales, q->scales);
}

TEST_P(GptqTest, AllZeroInputsKeepTheNearestRounding) {
  const Precision p = GetParam();
  auto L = MakeLayer(16, 32, 3);
  const InputGram g = ZeroGram(32);
  QuantOptions o;
  GptqReport rep;
  QuantWeightPtr q = QuantizeWeightGptq(L->g, L->l, p, o, g, &rep);
  QuantWeightPtr ref = QuantizeWeight(L->g, L->l, p, o.scale_search);
  EXPECT_FALSE(rep.used);
  EXPECT_EQ(q->data, ref->data);
  EXPECT_EQ(q->scales, ref->scales);
}

INSTANTIATE_TEST_SUITE_P(Formats, GptqTest, ::testing::Values(Precision::kInt8, Precision::kNvfp4),
                         [](const ::testing::TestParamInfo<Precision>& i) {
                           return std::string(PrecisionName(i.param));
                         });

}  // namespace
}  // namespace conv
}  // namespace edge
