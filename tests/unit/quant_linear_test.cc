// The quantized Linear binding core (runtime/quant_linear.h) on
// hand-built tensor descriptions: row-major and packed weights give the
// oracle's bits; activations; refusals.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "ops/kernel_config.h"
#include "ops/nvfp4.h"
#include "ops/quant_gemm.h"
#include "runtime/quant_linear.h"

namespace edge {
namespace {

struct Layer {
  std::vector<float> x, w, bias;
  size_t M, K, N;
};

Layer MakeLayer(size_t M, size_t K, size_t N, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  Layer l{std::vector<float>(M * K), std::vector<float>(N * K), std::vector<float>(N), M, K, N};
  for (float& v : l.x) v = g(rng);
  for (float& v : l.w) v = g(rng);
  for (float& v : l.bias) v = g(rng);
  return l;
}

TensorInfo WeightInfo(fb::DType dtype, size_t N, size_t K) {
  TensorInfo t;
  t.name = "w";
  t.dtype = dtype;
  t.rank = 2;
  t.dims[0] = static_cast<int64_t>(N);
  t.dims[1] = static_cast<int64_t>(K);
  t.num_elements = static_cast<int64_t>(N * K);
  t.is_constant = true;
  return t;
}

TensorInfo BiasInfo(const std::vector<float>& b) {
  TensorInfo t;
  t.name = "bias";
  t.rank = 1;
  t.dims[0] = static_cast<int64_t>(b.size());
  t.num_elements = static_cast<int64_t>(b.size());
  t.bytes = b.size() * 4;
  t.is_constant = true;
  t.data = reinterpret_cast<const uint8_t*>(b.data());
  return t;
}

std::vector<float> RunLayer(const TensorInfo& w, const TensorInfo* bias, const Layer& l, fb::Activation act,
                       std::string* kernel) {
  QuantLinearState* s = nullptr;
  Status st = CreateQuantLinear(w, bias, l.M, act, kernel_config(), &s);
  EXPECT_TRUE(st.ok()) << st.message();
  if (!st.ok()) return {};
  *kernel = QuantLinearKernelName(s);
  void* scratch = std::aligned_alloc(64, RoundUp(QuantLinearScratchBytes(s) + 64, 64));
  std::vector<float> y(l.M * l.N);
  RunQuantLinear(s, l.x.data(), y.data(), scratch, nullptr);
  std::free(scratch);
  DestroyQuantLinear(s);
  return y;
}

TEST(QuantLinear, Int8RowMajorAndPackedMatchOracle) {
  const Layer l = MakeLayer(19, 70, 37, 1);
  std::vector<int8_t> q(l.N * l.K);
  std::vector<float> sc(l.N), ref(l.M * l.N);
  ASSERT_TRUE(QuantizeInt8PerChannel(l.w.data(), l.N, l.K, q.data(), sc.data()).ok());
  Qs8GemmRef(l.x.data(), l.M, l.K, q.data(), sc.data(), l.bias.data(), l.N, ref.data());
  TensorInfo w = WeightInfo(fb::DType::I8, l.N, l.K);
  w.quant = fb::QuantScheme::Int8PerChannel;
  w.scale_data = reinterpret_cast<const uint8_t*>(sc.data());
  w.scale_bytes = l.N * 4;
  w.data = reinterpret_cast<const uint8_t*>(q.data());
  w.bytes = q.size();
  const TensorInfo b = BiasInfo(l.bias);
  std::string name;
  EXPECT_EQ(RunLayer(w, &b, l, fb::Activation::None, &name), ref) << name;
  std::vector<uint8_t> packed(Qs8PackedBytes(l.N, l.K));
  Qs8PackN16K4(q.data(), l.N, l.K, packed.data());
  w.layout = fb::WeightLayout::PackedInt8N16K4;
  w.data = packed.data();
  w.bytes = packed.size();
  EXPECT_EQ(RunLayer(w, &b, l, fb::Activation::None, &name), ref) << name;
}

TEST(QuantLinear, Nvfp4RowMajorAndPackedMatchOracle) {
  const Layer l = MakeLayer(9, 100, 40, 2);
  std::vector<uint8_t> codes(l.N * ((l.K + 1) / 2)), scales(l.N * ((l.K + 15) / 16));
  float ts = 0;
  ASSERT_TRUE(QuantizeNvfp4(l.w.data(), l.N, l.K, codes.data(), scales.data(), &ts).ok());
  std::vector<float> ref(l.M * l.N);
  Qnvfp4GemmRef(l.x.data(), l.M, l.K, codes.data(), scales.data(), ts, nullptr, l.N, ref.data());
  TensorInfo w = WeightInfo(fb::DType::NVFP4, l.N, l.K);
  w.quant = fb::QuantScheme::NVFP4;
  w.tensor_scale = ts;
  w.data = codes.data();
  w.bytes = codes.size();
  w.scale_data = scales.data();
  w.scale_bytes = scales.size();
  std::string name;
  EXPECT_EQ(RunLayer(w, nullptr, l, fb::Activation::None, &name), ref) << name;
  std::vector<uint8_t> pc(Nvfp4PackedCodeBytes(l.N, l.K)), ps(Nvfp4PackedScaleBytes(l.N, l.K));
  Nvfp4PackN16K64(codes.data(), scales.data(), l.N, l.K, pc.data(), ps.data());
  w.layout = fb::WeightLayout::PackedNvfp4N16K64;
  w.data = pc.data();
  w.bytes = pc.size();
  w.scale_data = ps.data();
  w.scale_bytes = ps.size();
  EXPECT_EQ(RunLayer(w, nullptr, l, fb::Activation::None, &name), ref) << name;

  // Fused activations, applied after the bias-free output.
  const std::vector<float> gelu = RunLayer(w, nullptr, l, fb::Activation::Gelu, &name);
  const std::vector<float> silu = RunLayer(w, nullptr, l, fb::Activation::SiLU, &name);
  const std::vector<float> gtanh = RunLayer(w, nullptr, l, fb::Activation::GeluTanh, &name);
  ASSERT_EQ(gelu.size(), ref.size());
  for (size_t i = 0; i < ref.size(); ++i) {
    const double v = ref[i];
    EXPECT_NEAR(gelu[i], 0.5 * v * (1 + std::erf(v / std::sqrt(2.0))), 1e-5 * (1 + std::fabs(v)));
    EXPECT_NEAR(silu[i], v / (1 + std::exp(-v)), 1e-5 * (1 + std::fabs(v)));
    EXPECT_NEAR(gtanh[i], 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v))),
                1e-5 * (1 + std::fabs(v)));
  }
}

TEST(QuantLinear, Refusals) {
  std::vector<float> nan_w = {1.0f, std::nanf(""), 0.0f, 2.0f};
  std::vector<int8_t> q(4);
  std::vector<float> sc(2);
  EXPECT_EQ(QuantizeInt8PerChannel(nan_w.data(), 2, 2, q.data(), sc.data()).code(), StatusCode::kNumericError);
  std::vector<uint8_t> codes(2), scales(2);
  float ts;
  EXPECT_EQ(QuantizeNvfp4(nan_w.data(), 2, 2, codes.data(), scales.data(), &ts).code(),
            StatusCode::kNumericError);

  // NaN E4M3 block scale in a file.
  std::vector<uint8_t> c(8, 0), s(2, 0x38);
  s[1] = 0x7F;
  TensorInfo w = WeightInfo(fb::DType::NVFP4, 2, 16);
  w.quant = fb::QuantScheme::NVFP4;
  w.data = c.data();
  w.bytes = 16;
  w.scale_data = s.data();
  w.scale_bytes = 2;
  QuantLinearState* st = nullptr;
  EXPECT_EQ(CreateQuantLinear(w, nullptr, 4, fb::Activation::None, kernel_config(), &st).code(),
            StatusCode::kInvalidModel);
  EXPECT_EQ(st, nullptr);
  // Wrong scale count for int8.
  TensorInfo wi = WeightInfo(fb::DType::I8, 2, 2);
  wi.quant = fb::QuantScheme::Int8PerChannel;
  wi.data = reinterpret_cast<const uint8_t*>(q.data());
  wi.bytes = 4;
  wi.scale_data = reinterpret_cast<const uint8_t*>(sc.data());
  wi.scale_bytes = 4;
  EXPECT_EQ(CreateQuantLinear(wi, nullptr, 1, fb::Activation::None, kernel_config(), &st).code(),
            StatusCode::kInvalidModel);
  // Not a quantized dtype.
  TensorInfo wf = WeightInfo(fb::DType::F32, 2, 2);
  wf.data = reinterpret_cast<const uint8_t*>(nan_w.data());
  EXPECT_EQ(CreateQuantLinear(wf, nullptr, 1, fb::Activation::None, kernel_config(), &st).code(),
            StatusCode::kUnsupported);
}

}  // namespace
}  // namespace edge
