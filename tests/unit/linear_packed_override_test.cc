// The precision override on weights stored packed (as edge-convert writes
// them): fp32 must dequantize through the packed layout, giving the same
// output as an F32 model holding the row-major dequantized weight.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "ops/nvfp4.h"
#include "ops/quant_gemm.h"
#include "runtime/session.h"
#include "tests/unit/model_test_util.h"

namespace edge {
namespace {

constexpr int64_t kM = 5, kN = 37, kK = 83;  // tails in N (16) and K (4 / 16)

std::vector<float> RandomWeights(uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.f, 0.05f);
  std::vector<float> w(kN * kK);
  for (float& v : w) v = nd(rng);
  w[3] = 0.9f;  // an outlier so block scales differ
  return w;
}

// Builds y = Linear(x, W, bias); `add_weight` adds W and returns its tensor.
template <typename F>
std::vector<float> RunLinear(F add_weight, PrecisionOverride precision, const std::vector<float>& x) {
  ModelWriter w;
  const int xt = w.AddActivation("x", {kM, kK});
  const int wt = add_weight(&w);
  std::vector<float> bias(kN);
  for (int64_t n = 0; n < kN; ++n) bias[n] = 0.01f * static_cast<float>(n);
  const int bt = w.AddConstantF32("b", {kN}, bias);
  const int yt = w.AddActivation("y", {kM, kN});
  w.AddOp(fb::OpType::Linear, {xt, wt, bt}, {yt});
  w.SetInputs({xt});
  w.SetOutputs({yt});
  std::vector<uint8_t> bytes;
  EXPECT_TRUE(w.Finish(&bytes).ok());
  auto m = testing_util::LoadBorrowed(bytes);
  EXPECT_TRUE(m.ok()) << m.status().message();
  if (!m.ok()) return {};
  SessionOptions so;
  so.precision = precision;
  auto s = Session::Create(m.value().get(), so);
  EXPECT_TRUE(s.ok()) << s.status().message();
  if (!s.ok()) return {};
  EXPECT_TRUE(s.value()->SetInput(xt, x.data(), x.size() * sizeof(float)).ok());
  EXPECT_TRUE(s.value()->Invoke().ok());
  const float* y = static_cast<const float*>(s.value()->data(yt));
  return std::vector<float>(y, y + kM * kN);
}

std::vector<float> Input() {
  std::vector<float> x(kM * kK);
  for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.37f * static_cast<float>(i));
  return x;
}

TEST(LinearPackedOverride, Nvfp4PackedDequantizesToRowMajor) {
  const std::vector<float> wf = RandomWeights(1);
  std::vector<uint8_t> codes(kN * ((kK + 1) / 2)), scales(kN * ((kK + 15) / 16));
  float g_dec = 0;
  ASSERT_TRUE(Nvfp4Quantize(wf.data(), kN, kK, kK, codes.data(), scales.data(), &g_dec));
  std::vector<uint8_t> pc(Nvfp4PackedCodeBytes(kN, kK)), ps(Nvfp4PackedScaleBytes(kN, kK));
  Nvfp4PackN16K64(codes.data(), scales.data(), kN, kK, pc.data(), ps.data());
  std::vector<float> deq(kN * kK);
  Nvfp4Dequantize(codes.data(), scales.data(), g_dec, kN, kK, deq.data(), kK);
  const std::vector<float> x = Input();
  auto ref = RunLinear([&](ModelWriter* w) { return w->AddConstantF32("W", {kN, kK}, deq); },
                       PrecisionOverride::kAsStored, x);
  auto got = RunLinear(
      [&](ModelWriter* w) {
        return w->AddNvfp4("W", {kN, kK}, pc.data(), pc.size(), ps.data(), ps.size(), g_dec,
                           fb::WeightLayout::PackedNvfp4N16K64);
      },
      PrecisionOverride::kFp32, x);
  ASSERT_EQ(ref.size(), got.size());
  for (size_t i = 0; i < ref.size(); ++i) EXPECT_EQ(ref[i], got[i]) << i;
}

TEST(LinearPackedOverride, Int8PackedDequantizesToRowMajor) {
  const std::vector<float> wf = RandomWeights(2);
  std::vector<int8_t> q(kN * kK);
  std::vector<float> sc(kN);
  ASSERT_TRUE(Qs8QuantizePerChannel(wf.data(), kN, kK, kK, q.data(), sc.data()));
  std::vector<uint8_t> packed(Qs8PackedBytes(kN, kK));
  Qs8PackN16K4(q.data(), kN, kK, packed.data());
  std::vector<float> deq(kN * kK);
  for (int64_t n = 0; n < kN; ++n)
    for (int64_t k = 0; k < kK; ++k) deq[n * kK + k] = q[n * kK + k] * sc[n];
  const std::vector<float> x = Input();
  auto ref = RunLinear([&](ModelWriter* w) { return w->AddConstantF32("W", {kN, kK}, deq); },
                       PrecisionOverride::kAsStored, x);
  auto got = RunLinear(
      [&](ModelWriter* w) {
        return w->AddInt8PerChannel("W", {kN, kK}, packed.data(), packed.size(), sc,
                                    fb::WeightLayout::PackedInt8N16K4);
      },
      PrecisionOverride::kFp32, x);
  ASSERT_EQ(ref.size(), got.size());
  for (size_t i = 0; i < ref.size(); ++i) EXPECT_EQ(ref[i], got[i]) << i;
}

}  // namespace
}  // namespace edge
