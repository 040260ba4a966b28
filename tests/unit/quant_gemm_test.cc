// Every quantized GEMM variant this CPU runs vs the scalar oracle: bit-exact
// (the integer dots are exact and the FP32 steps run in the same order, see
// ops/quant_gemm.h), on odd shapes, zeros and large magnitudes; plus the
// quantization error against FP32 on Gaussian data.
#include <gtest/gtest.h>

#include <pthreadpool.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "ops/cpu_features.h"
#include "ops/kernel_config.h"
#include "ops/nvfp4.h"
#include "ops/quant_gemm.h"

namespace edge {
namespace {

struct Aligned {
  void* p = nullptr;
  explicit Aligned(size_t n) { p = std::aligned_alloc(64, RoundUp(n + 64, 64)); std::memset(p, 0x5A, RoundUp(n + 64, 64)); }
  ~Aligned() { std::free(p); }
};

// Under an emulator the CPU detection may see the host; setting
// EDGE_TEST_ALL_VARIANTS=1 runs every compiled variant regardless.
bool Runs(const QGemmKernel& k) {
  const char* all = std::getenv("EDGE_TEST_ALL_VARIANTS");
  return (all != nullptr && all[0] == '1') || k.supported(DetectCpuFeatures());
}

enum class Fill { kGauss, kZeros, kHuge, kOutliers };

std::vector<float> Make(size_t n, std::mt19937& rng, Fill fill) {
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) {
    switch (fill) {
      case Fill::kGauss: v[i] = g(rng); break;
      case Fill::kZeros: v[i] = 0.0f; break;
      case Fill::kHuge: v[i] = g(rng) * 1e30f; break;
      case Fill::kOutliers: v[i] = (i % 37 == 0) ? g(rng) * 300.0f : g(rng) * 1e-3f; break;
    }
  }
  return v;
}

// Runs one variant on prepared weights and returns y.
std::vector<float> RunVariant(const QGemmKernel& kern, bool nvfp4, const std::vector<float>& x,
                              size_t M, size_t K, size_t N, const std::vector<int8_t>& q,
                              const std::vector<float>& w_scale, const std::vector<uint8_t>& codes,
                              const std::vector<uint8_t>& scales, float ts, const float* bias,
                              pthreadpool_t pool) {
  const size_t Np = RoundUp(N, 16);
  std::vector<uint8_t> packed, packed_sc;
  std::vector<float> sw(Np, 0.0f), b(Np, 0.0f);
  std::vector<int32_t> corr(Np, 0);
  QGemmArgs args;
  args.M = M; args.N = N; args.K = K;
  if (nvfp4) {
    packed.resize(Nvfp4PackedCodeBytes(N, K));
    packed_sc.resize(Nvfp4PackedScaleBytes(N, K));
    Nvfp4PackN16K64(codes.data(), scales.data(), N, K, packed.data(), packed_sc.data());
    args.w_scales = packed_sc.data();
    args.tensor_half = 0.5f * ts;
  } else {
    packed.resize(Qs8PackedBytes(N, K));
    Qs8PackN16K4(q.data(), N, K, packed.data());
    std::copy(w_scale.begin(), w_scale.end(), sw.begin());
    Qs8ColumnCorrection(packed.data(), N, K, corr.data());
    args.w_scale = sw.data();
    args.w_corr = corr.data();
  }
  if (bias) std::copy(bias, bias + N, b.begin());
  args.w = packed.data();
  args.bias = b.data();
  std::vector<float> y(M * N + 1, -777.0f);  // sentinel past the end
  args.y = y.data();
  args.ldy = N;
  Aligned scratch(QGemmScratchBytes(kern, M, K));
  QGemmRun(kern, x.data(), K, args, scratch.p, pool);
  EXPECT_EQ(y[M * N], -777.0f) << "wrote past y";
  y.resize(M * N);
  return y;
}

struct Shape { size_t M, K, N; };
const Shape kShapes[] = {{1, 1, 1},   {1, 16, 16}, {3, 17, 5},   {17, 33, 31}, {8, 64, 48},
                         {7, 100, 49}, {33, 3, 17}, {13, 130, 97}, {1, 257, 33}, {64, 96, 144},
                         {25, 48, 100}};

void CheckAll(bool nvfp4) {
  const QGemmKernel* const* list;
  const size_t n = nvfp4 ? Qnvfp4GemmVariants(&list) : Qs8GemmVariants(&list);
  pthreadpool_t pool = pthreadpool_create(2);
  std::mt19937 rng(1234);
  int ran = 0;
  for (size_t v = 0; v < n; ++v) {
    const QGemmKernel& kern = *list[v];
    if (!Runs(kern)) continue;
    ++ran;
    for (const Shape& s : kShapes) {
      for (Fill fx : {Fill::kGauss, Fill::kZeros, Fill::kHuge, Fill::kOutliers}) {
        for (Fill fw : {Fill::kGauss, Fill::kZeros, Fill::kOutliers, Fill::kHuge}) {
          if (fx != Fill::kGauss && fw != Fill::kGauss) continue;
          const std::vector<float> x = Make(s.M * s.K, rng, fx);
          const std::vector<float> w = Make(s.N * s.K, rng, fw);
          const std::vector<float> bias = Make(s.N, rng, Fill::kGauss);
          std::vector<int8_t> q(s.N * s.K);
          std::vector<float> w_scale(s.N);
          std::vector<uint8_t> codes(s.N * ((s.K + 1) / 2)), scales(s.N * ((s.K + 15) / 16));
          float ts = 0;
          std::vector<float> ref(s.M * s.N);
          const bool with_bias = (s.M + s.N) % 2 == 0;
          if (nvfp4) {
            ASSERT_TRUE(Nvfp4Quantize(w.data(), s.N, s.K, s.K, codes.data(), scales.data(), &ts));
            Qnvfp4GemmRef(x.data(), s.M, s.K, codes.data(), scales.data(), ts,
                          with_bias ? bias.data() : nullptr, s.N, ref.data());
          } else {
            ASSERT_TRUE(Qs8QuantizePerChannel(w.data(), s.N, s.K, s.K, q.data(), w_scale.data()));
            Qs8GemmRef(x.data(), s.M, s.K, q.data(), w_scale.data(),
                       with_bias ? bias.data() : nullptr, s.N, ref.data());
          }
          for (pthreadpool_t p : {static_cast<pthreadpool_t>(nullptr), pool}) {
            const std::vector<float> y =
                RunVariant(kern, nvfp4, x, s.M, s.K, s.N, q, w_scale, codes, scales, ts,
                           with_bias ? bias.data() : nullptr, p);
            size_t bad = 0;
            for (size_t i = 0; i < y.size(); ++i) {
              // Bit-exact: compare the bits (NaN never occurs here).
              if (std::memcmp(&y[i], &ref[i], 4) != 0 && bad++ < 3) {
                ADD_FAILURE() << kern.name << " M=" << s.M << " K=" << s.K << " N=" << s.N
                              << " fill " << int(fx) << "/" << int(fw) << " i=" << i
                              << " got " << y[i] << " want " << ref[i];
              }
            }
          }
        }
      }
    }
  }
#if defined(__x86_64__) || defined(__aarch64__)
  // At least one SIMD variant plus the scalar one wherever the (possibly
  // EDGE_ISA_CAP-capped) CPU has SIMD; the scalar one alone under a scalar cap.
  const CpuFeatures& cf = DetectCpuFeatures();
  EXPECT_GE(ran, (cf.avx2 && cf.fma) || cf.neon ? 2 : 1);
#else
  EXPECT_GE(ran, 1);  // 32-bit ARM (armhf): no SIMD quantized variants, the scalar one only
#endif
  pthreadpool_destroy(pool);
}

TEST(QuantGemm, Qs8VariantsMatchReference) { CheckAll(false); }
TEST(QuantGemm, Qnvfp4VariantsMatchReference) { CheckAll(true); }

TEST(QuantGemm, ActivationQuantizersMatchReference) {
  const QGemmKernel* const* lists[2];
  const size_t counts[2] = {Qs8GemmVariants(&lists[0]), Qnvfp4GemmVariants(&lists[1])};
  std::mt19937 rng(7);
  for (int l = 0; l < 2; ++l) {
    for (size_t v = 0; v < counts[l]; ++v) {
      const QGemmKernel& kern = *lists[l][v];
      if (!Runs(kern)) continue;
      for (size_t K : {1, 5, 16, 31, 100, 769}) {
        const size_t rows = 3, kp = RoundUp(K, kern.k_align), ld = RoundUp(QActRowBytes(kern.act, kp), 64);
        std::vector<float> x = Make(rows * K, rng, Fill::kGauss);
        x[0] = 5.0f;  // a row whose amax sits at k = 0
        std::vector<uint8_t> q1(rows * ld, 1), q2(rows * ld, 1);
        std::vector<float> s1(rows), s2(rows);
        std::vector<int32_t> c1(rows * (kp / 16 + 1), 3), c2(rows * (kp / 16 + 1), 3);
        kern.quantize(x.data(), K, rows, K, kp, kern.act, q1.data(), ld, s1.data(), c1.data(), kp / 16 + 1);
        QuantizeRowsRef(x.data(), K, rows, K, kp, kern.act, q2.data(), ld, s2.data(), c2.data(), kp / 16 + 1);
        EXPECT_EQ(q1, q2) << kern.name << " K=" << K;
        EXPECT_EQ(s1, s2) << kern.name;
        EXPECT_EQ(c1, c2) << kern.name;
      }
    }
  }
}

TEST(QuantGemm, E4M3DecodeInKernelsMatchesTable) {
  // One column, K = 16 * 127: block b carries scale byte b (0x00..0x7E), all
  // codes 1 (0.5) and x = 1, so every E4M3 value, subnormals included, goes
  // through each variant's in-register scale decoding.
  const size_t K = 16 * 127, N = 1, M = 1;
  std::vector<uint8_t> codes((K + 1) / 2, 0x11), scales(127);
  for (int b = 0; b < 127; ++b) scales[b] = static_cast<uint8_t>(b);
  std::vector<float> x(K, 1.0f), ref(1);
  Qnvfp4GemmRef(x.data(), M, K, codes.data(), scales.data(), 1.0f, nullptr, N, ref.data());
  const QGemmKernel* const* list;
  const size_t n = Qnvfp4GemmVariants(&list);
  for (size_t v = 0; v < n; ++v) {
    if (!Runs(*list[v])) continue;
    std::vector<float> y = RunVariant(*list[v], true, x, M, K, N, {}, {}, codes, scales, 1.0f,
                                      nullptr, nullptr);
    EXPECT_EQ(y[0], ref[0]) << list[v]->name;
  }
  // And each scale alone, so that a wrong subnormal is not hidden by the sum.
  for (int b = 0; b < 127; ++b) {
    std::vector<uint8_t> sc(127, 0);
    sc[b] = static_cast<uint8_t>(b);
    Qnvfp4GemmRef(x.data(), M, K, codes.data(), sc.data(), 1.0f, nullptr, N, ref.data());
    // x = 1 -> q = 127, s_a = 1/127; acc = 16 * 127 * (2 * 0.5): y = 8 * e4m3(b).
    EXPECT_NEAR(ref[0], 8.0 * E4M3Decode(static_cast<uint8_t>(b)), 1e-6 * 8.0 * E4M3Decode(static_cast<uint8_t>(b)));
    for (size_t v = 0; v < n; ++v) {
      if (!Runs(*list[v])) continue;
      std::vector<float> y = RunVariant(*list[v], true, x, M, K, N, {}, {}, codes, sc, 1.0f,
                                        nullptr, nullptr);
      EXPECT_EQ(y[0], ref[0]) << list[v]->name << " scale byte " << b;
    }
  }
}

double RelErr(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    den += double(b[i]) * b[i];
  }
  return std::sqrt(num / den);
}

TEST(QuantGemm, ErrorAgainstFp32OnGaussianData) {
  const size_t M = 32, K = 768, N = 96;
  std::mt19937 rng(99);
  const std::vector<float> x = Make(M * K, rng, Fill::kGauss), w = Make(N * K, rng, Fill::kGauss);
  std::vector<float> exact(M * N, 0.0f);
  for (size_t m = 0; m < M; ++m)
    for (size_t n = 0; n < N; ++n) {
      double s = 0;
      for (size_t k = 0; k < K; ++k) s += double(x[m * K + k]) * w[n * K + k];
      exact[m * N + n] = static_cast<float>(s);
    }
  std::vector<int8_t> q(N * K);
  std::vector<float> sw(N), y8(M * N), y4(M * N);
  ASSERT_TRUE(Qs8QuantizePerChannel(w.data(), N, K, K, q.data(), sw.data()));
  Qs8GemmRef(x.data(), M, K, q.data(), sw.data(), nullptr, N, y8.data());
  std::vector<uint8_t> codes(N * K / 2), scales(N * K / 16);
  float ts;
  ASSERT_TRUE(Nvfp4Quantize(w.data(), N, K, K, codes.data(), scales.data(), &ts));
  Qnvfp4GemmRef(x.data(), M, K, codes.data(), scales.data(), ts, nullptr, N, y4.data());
  const double e8 = RelErr(y8, exact), e4 = RelErr(y4, exact);
  EXPECT_LT(e8, 1.5e-2);  // measured 1.09e-2: per-token and per-channel amax/127 steps on N(0,1)
  EXPECT_LT(e4, 1e-1);    // measured 9.6e-2
  EXPECT_GT(e4, e8);  // 4-bit weights are coarser than 8-bit ones
  RecordProperty("int8_rel_err", std::to_string(e8));
  RecordProperty("nvfp4_rel_err", std::to_string(e4));
  std::printf("relative L2 error vs FP32: int8 %.4g, nvfp4 %.4g\n", e8, e4);
}

}  // namespace
}  // namespace edge
