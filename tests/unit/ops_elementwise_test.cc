// F32 elementwise kernels: every variant this CPU runs (ref, AVX2, AVX-512,
// NEON on AArch64 and AArch32, called directly) against double-precision
// references written here, on odd widths, tails, constant rows and extreme
// values.
#include <cfloat>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "ops/cpu_features.h"
#include "ops/f32_activation.h"
#include "ops/f32_binary.h"
#include "ops/f32_groupnorm.h"
#include "ops/f32_modulate.h"
#include "ops/f32_norm.h"
#include "ops/f32_softmax.h"
#include "ops/f32_upsample.h"

namespace edge {
namespace {

const size_t kCols[] = {1, 3, 17, 31, 33, 255, 769};

template <class F>
struct Variant {
  std::string name;
  F fn;
  double flush_below = 0;  // results below this magnitude may be 0 (AArch32 NEON)
};

// The ref variant always, the x86 ones and AArch32's NEON one when this CPU
// has them.
#if EDGE_ARCH_X86_64
#define EDGE_VARIANTS(base, type)                                                   \
  ([] {                                                                             \
    std::vector<Variant<type>> v{{#base "_ref", base##_ref}};                       \
    const CpuFeatures& cpu = DetectCpuFeatures();                                   \
    if (cpu.avx2 && cpu.fma) v.push_back({#base "__avx2", base##__avx2});           \
    if (BestIsaLevel(cpu) == IsaLevel::kAvx512) v.push_back({#base "__avx512", base##__avx512}); \
    return v;                                                                       \
  }())
#elif EDGE_ARCH_AARCH64
#define EDGE_VARIANTS(base, type) \
  (std::vector<Variant<type>>{{#base "_ref", base##_ref}, {#base "__neon", base##__neon}})
#elif EDGE_ARCH_ARM32
#define EDGE_VARIANTS(base, type)                                                             \
  ([] {                                                                                       \
    std::vector<Variant<type>> v{{#base "_ref", base##_ref}};                                 \
    if (ArmF32NeonSupported(DetectCpuFeatures()))                                             \
      v.push_back({#base "__neon", base##__neon, kArm32NeonFlushBelow});                      \
    return v;                                                                                 \
  }())
#else
#define EDGE_VARIANTS(base, type) (std::vector<Variant<type>>{{#base "_ref", base##_ref}})
#endif

std::vector<float> Random(size_t n, float lo, float hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// ---------------------------------------------------------------- unary

double UnaryRef(F32Unary k, double x) {
  switch (k) {
    case F32Unary::kGelu: return 0.5 * x * std::erfc(-x / std::sqrt(2.0));
    case F32Unary::kGeluTanh: {
      // 0.5 x (1 + tanh u) == x / (1 + e^(-2u)), in long double.
      const long double xl = x;
      const long double u = std::sqrt(2.0L / M_PI) * (xl + 0.044715L * xl * xl * xl);
      return static_cast<double>(xl / (1.0L + std::exp(-2.0L * u)));
    }
    case F32Unary::kSilu: return x / (1.0 + std::exp(-x));
    case F32Unary::kSigmoid: return 1.0 / (1.0 + std::exp(-x));
    case F32Unary::kTanh: return std::tanh(x);
    case F32Unary::kExp: return std::exp(x);
    case F32Unary::kNeg: return -x;
    case F32Unary::kSqrt: return std::sqrt(x);
    case F32Unary::kRsqrt: return 1.0 / std::sqrt(x);
    case F32Unary::kAbs: return std::fabs(x);
    case F32Unary::kErf: return std::erf(x);
    case F32Unary::kReciprocal: return 1.0 / x;
    default: return 0;
  }
}

// Relative error where the reference is a normal float; absolute error in
// units of FLT_MIN below that (the result may flush towards zero). A variant
// that flushes subnormals may give 0 below flush_below.
double ErrVsRef(float got, double ref, double flush_below = 0) {
  if (std::fabs(ref) < flush_below && std::fabs(got) <= flush_below) return 0.0;
  if (std::isnan(ref)) return std::isnan(got) ? 0.0 : INFINITY;
  if (std::isinf(ref) || std::fabs(ref) > FLT_MAX) return got == static_cast<float>(ref) ? 0.0 : INFINITY;
  if (std::isnan(got)) return INFINITY;
  const double a = std::fabs(ref);
  if (a >= FLT_MIN) return std::fabs(got - ref) / a;
  return std::fabs(got - ref) / FLT_MIN * 1e-6;  // below normal range: allow ~FLT_MIN abs
}

struct UnaryCase {
  F32Unary kind;
  double lo, hi;
  double tol;
};

// Max relative error over a dense grid (every float in the range for narrow
// ranges would be too slow; 2M points plus edges catch polynomial faults).
TEST(OpsUnary, AllVariantsMatchDoubleReference) {
  const UnaryCase cases[] = {
      // Relative bounds of the library (docs/vec_math.md has it in ulp).
      {F32Unary::kGelu, -20, 20, 1.5e-6},   {F32Unary::kGeluTanh, -20, 20, 8e-7},
      {F32Unary::kSilu, -20, 20, 2.5e-7},   {F32Unary::kSigmoid, -20, 20, 2.5e-7},
      {F32Unary::kTanh, -20, 20, 1.5e-7},   {F32Unary::kExp, -87, 88, 1e-7},
      {F32Unary::kErf, -20, 20, 2e-7},      {F32Unary::kNeg, -20, 20, 0},
      {F32Unary::kAbs, -20, 20, 0},         {F32Unary::kSqrt, 0, 1e4, 1e-7},
      {F32Unary::kRsqrt, 1e-6, 1e4, 1.5e-7}, {F32Unary::kReciprocal, -20, 20, 1e-7},
      // Tails where the result is still a normal float (or underflows).
      {F32Unary::kSilu, -110, 100, 6e-6},   {F32Unary::kSigmoid, -110, 100, 6e-6},
      {F32Unary::kGelu, -16, 0, 1e-5},      {F32Unary::kGeluTanh, -12, 0, 1e-5},
      {F32Unary::kExp, -110, 100, 1e-5},    {F32Unary::kErf, -1.5, 1.5, 1e-5},
  };
  const size_t n = 2000003;  // odd: exercises the tail
  std::vector<float> x(n), y(n);
  for (const UnaryCase& c : cases) {
    for (size_t i = 0; i < n; ++i)
      x[i] = static_cast<float>(c.lo + (c.hi - c.lo) * static_cast<double>(i) / (n - 1));
    for (const auto& v : EDGE_VARIANTS(f32_vunary, f32_vunary_fn)) {
      v.fn(c.kind, n, x.data(), y.data(), nullptr);
      double worst = 0;
      float worst_x = 0;
      for (size_t i = 0; i < n; ++i) {
        const double e = ErrVsRef(y[i], UnaryRef(c.kind, x[i]), v.flush_below);
        if (e > worst) {
          worst = e;
          worst_x = x[i];
        }
      }
      EXPECT_LE(worst, c.tol) << v.name << " " << F32UnaryName(c.kind) << " worst at x=" << worst_x;
      std::printf("  %-20s %-10s max rel err %.3g (x=%g)\n", v.name.c_str(), F32UnaryName(c.kind),
                  worst, worst_x);
    }
  }
}

TEST(OpsUnary, ExtremesGiveNoNaN) {
  const std::vector<float> x = {1e4f, -1e4f, 88.5f, -88.5f, 100.f, -100.f, 0.f, -0.f,
                                1e-30f, -1e-30f, 1e-40f, FLT_MAX, -FLT_MAX, 30.f, -30.f, 13.f, -13.f};
  const F32Unary kinds[] = {F32Unary::kGelu, F32Unary::kGeluTanh, F32Unary::kSilu,
                            F32Unary::kSigmoid, F32Unary::kTanh, F32Unary::kErf, F32Unary::kExp};
  std::vector<float> y(x.size());
  for (F32Unary k : kinds) {
    for (const auto& v : EDGE_VARIANTS(f32_vunary, f32_vunary_fn)) {
      v.fn(k, x.size(), x.data(), y.data(), nullptr);
      for (size_t i = 0; i < x.size(); ++i) {
        const double ref = UnaryRef(k, x[i]);
        ASSERT_FALSE(std::isnan(y[i])) << v.name << " " << F32UnaryName(k) << "(" << x[i] << ")";
        EXPECT_LE(ErrVsRef(y[i], ref, v.flush_below), 1e-5)
            << v.name << " " << F32UnaryName(k) << "(" << x[i] << ") = " << y[i] << " want " << ref;
      }
    }
  }
  // Specific values that models depend on.
  for (const auto& v : EDGE_VARIANTS(f32_vunary, f32_vunary_fn)) {
    const float in[4] = {1e4f, -1e4f, 0.f, -INFINITY};
    float out[4];
    v.fn(F32Unary::kGelu, 4, in, out, nullptr);
    EXPECT_EQ(out[0], 1e4f) << v.name;
    EXPECT_EQ(out[1], 0.f) << v.name;
    EXPECT_EQ(out[2], 0.f) << v.name;
    v.fn(F32Unary::kExp, 4, in, out, nullptr);
    EXPECT_EQ(out[0], INFINITY) << v.name;
    EXPECT_EQ(out[1], 0.f) << v.name;
    EXPECT_EQ(out[2], 1.f) << v.name;
    EXPECT_EQ(out[3], 0.f) << v.name;
    const float nan_in = NAN;
    float nan_out = 0;
    v.fn(F32Unary::kGelu, 1, &nan_in, &nan_out, nullptr);
    EXPECT_TRUE(std::isnan(nan_out)) << v.name << ": NaN must propagate";
  }
}

TEST(OpsUnary, InPlaceAndAllLengths) {
  for (size_t n = 0; n <= 70; ++n) {
    const std::vector<float> x = Random(n, -5, 5, static_cast<uint32_t>(n));
    for (const auto& v : EDGE_VARIANTS(f32_vunary, f32_vunary_fn)) {
      std::vector<float> y = x;
      y.push_back(123.f);  // guard: must not be written
      v.fn(F32Unary::kSilu, n, y.data(), y.data(), nullptr);
      for (size_t i = 0; i < n; ++i) EXPECT_LE(ErrVsRef(y[i], UnaryRef(F32Unary::kSilu, x[i]), v.flush_below), 1e-6);
      EXPECT_EQ(y[n], 123.f) << v.name << " wrote past n=" << n;
    }
  }
}

// ---------------------------------------------------------------- norms

void LayerNormDouble(size_t rows, size_t cols, const float* x, const float* g, const float* b,
                     float eps, std::vector<double>* y) {
  y->resize(rows * cols);
  for (size_t r = 0; r < rows; ++r) {
    long double s = 0;
    for (size_t i = 0; i < cols; ++i) s += x[r * cols + i];
    const long double mean = s / cols;
    long double q = 0;
    for (size_t i = 0; i < cols; ++i) q += (x[r * cols + i] - mean) * (x[r * cols + i] - mean);
    const long double rstd = 1.0L / std::sqrt(q / cols + eps);
    for (size_t i = 0; i < cols; ++i) {
      long double v = (x[r * cols + i] - mean) * rstd;
      if (g) v *= g[i];
      if (b) v += b[i];
      (*y)[r * cols + i] = static_cast<double>(v);
    }
  }
}

// Normalized outputs are O(1): error relative to max(1, |ref|).
double NormErr(float got, double ref) {
  return std::fabs(got - ref) / std::max(1.0, std::fabs(ref));
}

TEST(OpsNorm, LayerNormAllVariants) {
  const auto variants = EDGE_VARIANTS(f32_layernorm, f32_layernorm_fn);
  for (size_t cols : kCols) {
    for (int kind = 0; kind < 5; ++kind) {
      const size_t rows = 5;
      std::vector<float> x = Random(rows * cols, -3, 3, static_cast<uint32_t>(cols * 7 + kind));
      if (kind == 1) for (auto& v : x) v = 0.f;                        // zeros
      if (kind == 2) for (size_t i = 0; i < x.size(); ++i) x[i] = 2.5f + 0 * x[i];  // constant rows
      if (kind == 3) for (auto& v : x) v = 1e4f + v;                   // large offset
      if (kind == 4) for (auto& v : x) v *= 1e5f;                      // large scale
      const std::vector<float> g = Random(cols, 0.5, 1.5, 3), b = Random(cols, -1, 1, 4);
      for (int affine = 0; affine < 4; ++affine) {
        const float* gp = (affine & 1) ? g.data() : nullptr;
        const float* bp = (affine & 2) ? b.data() : nullptr;
        std::vector<double> ref;
        LayerNormDouble(rows, cols, x.data(), gp, bp, 1e-5f, &ref);
        for (const auto& v : variants) {
          std::vector<float> y(rows * cols + 1, 77.f);
          v.fn(rows, cols, x.data(), gp, bp, 1e-5f, y.data(), nullptr);
          double worst = 0;
          for (size_t i = 0; i < rows * cols; ++i) worst = std::max(worst, NormErr(y[i], ref[i]));
          EXPECT_LE(worst, 1e-5) << v.name << " cols=" << cols << " kind=" << kind << " affine=" << affine;
          EXPECT_EQ(y[rows * cols], 77.f) << v.name << " wrote past the end";
        }
      }
    }
  }
}

TEST(OpsNorm, RMSNormAllVariants) {
  const auto variants = EDGE_VARIANTS(f32_rmsnorm, f32_rmsnorm_fn);
  for (size_t cols : kCols) {
    for (int kind = 0; kind < 3; ++kind) {
      const size_t rows = 4;
      std::vector<float> x = Random(rows * cols, -3, 3, static_cast<uint32_t>(cols + kind));
      if (kind == 1) for (auto& v : x) v = 0.f;
      if (kind == 2) for (auto& v : x) v *= 1e4f;
      const std::vector<float> g = Random(cols, 0.5, 1.5, 5);
      for (int affine = 0; affine < 2; ++affine) {
        const float* gp = affine ? g.data() : nullptr;
        for (const auto& v : variants) {
          std::vector<float> y(rows * cols);
          v.fn(rows, cols, x.data(), gp, 1e-6f, y.data(), nullptr);
          for (size_t r = 0; r < rows; ++r) {
            long double q = 0;
            for (size_t i = 0; i < cols; ++i) q += (long double)x[r * cols + i] * x[r * cols + i];
            const long double rs = 1.0L / std::sqrt(q / cols + 1e-6L);
            for (size_t i = 0; i < cols; ++i) {
              const double ref = static_cast<double>(x[r * cols + i] * rs * (gp ? gp[i] : 1.0f));
              ASSERT_LE(NormErr(y[r * cols + i], ref), 1e-5) << v.name << " cols=" << cols;
            }
          }
        }
      }
    }
  }
}

// ---------------------------------------------------------------- softmax

TEST(OpsSoftmax, AnyAxisAllVariants) {
  struct Shape { size_t outer, axis, inner; };
  const Shape shapes[] = {{3, 1, 1},  {2, 17, 1}, {4, 769, 1}, {1, 31, 1}, {2, 33, 1},
                          {3, 5, 7},  {2, 9, 16}, {2, 31, 33}, {1, 3, 255}, {5, 2, 1}};
  for (const Shape& s : shapes) {
    const size_t n = s.outer * s.axis * s.inner;
    for (int kind = 0; kind < 3; ++kind) {
      std::vector<float> x = Random(n, -20, 20, static_cast<uint32_t>(n + kind));
      if (kind == 1) for (auto& v : x) v = 3.f;                          // uniform rows
      if (kind == 2) for (size_t i = 0; i < n; i += 3) x[i] = -INFINITY;  // masked entries
      if (kind == 2) for (size_t i = 1; i < n; i += 3) x[i] = 1e4f;
      for (const auto& v : EDGE_VARIANTS(f32_softmax, f32_softmax_fn)) {
        std::vector<float> y(n);
        v.fn(s.outer, s.axis, s.inner, x.data(), y.data(), nullptr);
        for (size_t o = 0; o < s.outer; ++o) {
          for (size_t j = 0; j < s.inner; ++j) {
            double m = -INFINITY;
            for (size_t a = 0; a < s.axis; ++a) m = std::max(m, (double)x[(o * s.axis + a) * s.inner + j]);
            if (std::isinf(m) && m < 0) continue;  // all masked: NaN, as in PyTorch
            double sum = 0;
            for (size_t a = 0; a < s.axis; ++a) sum += std::exp(x[(o * s.axis + a) * s.inner + j] - m);
            for (size_t a = 0; a < s.axis; ++a) {
              const size_t idx = (o * s.axis + a) * s.inner + j;
              const double ref = std::exp(x[idx] - m) / sum;
              if (std::isinf(x[idx]) && x[idx] < 0) {
                ASSERT_EQ(y[idx], 0.f) << v.name;
                continue;
              }
              ASSERT_LE(ErrVsRef(y[idx], ref), 1e-5)
                  << v.name << " shape " << s.outer << "x" << s.axis << "x" << s.inner << " idx " << idx;
            }
          }
        }
      }
    }
  }
}

// ---------------------------------------------------------------- binary

float ApplyOp(BinaryOp op, float a, float b) {
  switch (op) {
    case BinaryOp::kAdd: return a + b;
    case BinaryOp::kSub: return a - b;
    case BinaryOp::kMul: return a * b;
    case BinaryOp::kDiv: return a / b;
  }
  return 0;
}

TEST(OpsBinary, BroadcastShapes) {
  struct Case { std::vector<int64_t> a, b, out; };
  const Case cases[] = {
      {{2, 3, 4}, {4}, {2, 3, 4}},         {{2, 1, 4}, {1, 3, 1}, {2, 3, 4}},
      {{5, 769}, {5, 769}, {5, 769}},      {{3, 17}, {1}, {3, 17}},
      {{}, {2, 33}, {2, 33}},              {{3, 1}, {1, 5}, {3, 5}},
      {{2, 3, 1, 5, 1, 7}, {3, 4, 1, 6, 7}, {2, 3, 4, 5, 6, 7}},
      {{4, 1, 255}, {4, 31, 1}, {4, 31, 255}}, {{1}, {1}, {1}},
      {{2, 0, 3}, {3}, {2, 0, 3}},
  };
  const BinaryOp ops[] = {BinaryOp::kAdd, BinaryOp::kSub, BinaryOp::kMul, BinaryOp::kDiv};
  for (const Case& c : cases) {
    int64_t od[6];
    int orank = 0;
    ASSERT_TRUE(BroadcastShape(c.a.data(), (int)c.a.size(), c.b.data(), (int)c.b.size(), od, &orank));
    ASSERT_EQ(std::vector<int64_t>(od, od + orank), c.out);
    BroadcastPlan plan;
    ASSERT_TRUE(PlanBroadcast(c.a.data(), (int)c.a.size(), c.b.data(), (int)c.b.size(), &plan));
    auto count = [](const std::vector<int64_t>& d) { int64_t n = 1; for (auto v : d) n *= v; return n; };
    const std::vector<float> a = Random(count(c.a), -4, 4, 1), b = Random(count(c.b), 0.5f, 4, 2);
    const int64_t n = count(c.out);
    // Naive index math: out index -> a, b indices with right-aligned broadcast.
    std::vector<int64_t> ai(n), bi(n);
    for (int64_t i = 0; i < n; ++i) {
      int64_t rem = i, ia = 0, ib = 0, sa = 1, sb = 1;
      for (int d = orank - 1; d >= 0; --d) {
        const int64_t idx = rem % c.out[d];
        rem /= c.out[d];
        const int da = d - (orank - (int)c.a.size()), db = d - (orank - (int)c.b.size());
        if (da >= 0) { if (c.a[da] != 1) ia += idx * sa; sa *= c.a[da]; }
        if (db >= 0) { if (c.b[db] != 1) ib += idx * sb; sb *= c.b[db]; }
      }
      ai[i] = ia;
      bi[i] = ib;
    }
    for (BinaryOp op : ops) {
      for (const auto& v : EDGE_VARIANTS(f32_vbinary, f32_vbinary_fn)) {
        std::vector<float> y(n + 1, 5.f);
        f32_binary_broadcast(plan, op, a.data(), b.data(), y.data(), v.fn, nullptr);
        for (int64_t i = 0; i < n; ++i)
          ASSERT_EQ(y[i], ApplyOp(op, a[ai[i]], b[bi[i]])) << v.name << " op " << (int)op << " i " << i;
        EXPECT_EQ(y[n], 5.f);
      }
    }
  }
  int64_t od[6];
  int orank;
  const int64_t a[] = {2, 3}, b[] = {4};
  EXPECT_FALSE(BroadcastShape(a, 2, b, 1, od, &orank));
}

TEST(OpsBinary, CollapsesCommonCases) {
  BroadcastPlan p;
  const int64_t x[] = {2, 3, 4}, row[] = {4}, one[] = {1};
  ASSERT_TRUE(PlanBroadcast(x, 3, x, 3, &p));
  EXPECT_EQ(p.rank, 1);  // same shape: one flat run
  ASSERT_TRUE(PlanBroadcast(x, 3, one, 1, &p));
  EXPECT_EQ(p.rank, 1);
  EXPECT_EQ(p.b_stride[0], 0);
  ASSERT_TRUE(PlanBroadcast(x, 3, row, 1, &p));
  EXPECT_EQ(p.rank, 2);  // [6, 4] rows + [4]
  EXPECT_EQ(p.dims[0], 6);
}

// ---------------------------------------------------------------- adaLN

TEST(OpsModulate, ModulateAndGatedResidual) {
  const auto mod = EDGE_VARIANTS(f32_modulate, f32_modulate_fn);
  const auto gat = EDGE_VARIANTS(f32_gated_residual, f32_gated_residual_fn);
  for (size_t dim : kCols) {
    for (size_t stride_kind = 0; stride_kind < 2; ++stride_kind) {
      const size_t B = 2, N = 17;
      const size_t ps = stride_kind ? dim : 0;
      const std::vector<float> x = Random(B * N * dim, -5, 5, 9), r = Random(B * N * dim, -5, 5, 10);
      const std::vector<float> sh = Random(B * dim, -1, 1, 11), sc = Random(B * dim, -1, 1, 12);
      for (const auto& v : mod) {
        std::vector<float> y(B * N * dim);
        v.fn(B, N, dim, ps, x.data(), sh.data(), sc.data(), y.data(), nullptr);
        for (size_t i = 0; i < y.size(); ++i) {
          const size_t bb = i / (N * dim), d = i % dim;
          const double s = sc[bb * ps + d], h = sh[bb * ps + d];
          const double ref = (double)x[i] * (1.0 + s) + h;
          ASSERT_LE(std::fabs(y[i] - ref), 2e-7 * (std::fabs(x[i] * (1 + s)) + std::fabs(h)) + 1e-30)
              << v.name << " dim " << dim;
        }
      }
      for (const auto& v : gat) {
        std::vector<float> y(B * N * dim);
        v.fn(B, N, dim, ps, x.data(), sc.data(), r.data(), y.data(), nullptr);
        for (size_t i = 0; i < y.size(); ++i) {
          const size_t bb = i / (N * dim), d = i % dim;
          const double g = sc[bb * ps + d];
          const double ref = (double)x[i] + g * r[i];
          ASSERT_LE(std::fabs(y[i] - ref), 2e-7 * (std::fabs(x[i]) + std::fabs(g * r[i])) + 1e-30)
              << v.name << " dim " << dim;
        }
      }
    }
  }
}

// ---------------------------------------------------------------- decoder ops

void GroupNormDouble(const F32GroupNormParams& p, const float* x, const float* g, const float* b,
                     std::vector<double>* y) {
  const size_t cg = p.channels / p.groups, len = cg * p.spatial;
  y->resize(p.batch * p.channels * p.spatial);
  for (size_t u = 0; u < p.batch * p.groups; ++u) {
    const float* xg = x + u * len;
    long double s = 0, q = 0;
    for (size_t i = 0; i < len; ++i) s += xg[i];
    const long double mean = s / len;
    for (size_t i = 0; i < len; ++i) q += (xg[i] - mean) * (xg[i] - mean);
    const long double rstd = 1.0L / std::sqrt(q / len + p.eps);
    for (size_t i = 0; i < len; ++i) {
      const size_t c = (u % p.groups) * cg + i / p.spatial;
      long double v = (xg[i] - mean) * rstd * (g ? g[c] : 1.0f) + (b ? b[c] : 0.0f);
      if (p.silu) v = v / (1 + std::exp(-v));
      (*y)[u * len + i] = static_cast<double>(v);
    }
  }
}

TEST(OpsNorm, GroupNormAllVariants) {
  const auto variants = EDGE_VARIANTS(f32_groupnorm, f32_groupnorm_fn);
  struct Case { size_t n, c, l, g; };
  // One group, one channel per group, a single pixel, odd spatial sizes
  // (vector tails per channel), a decoder-like 32 groups.
  const Case cases[] = {{1, 8, 33, 1}, {2, 6, 17, 6}, {1, 32, 1, 8}, {2, 12, 7, 3}, {1, 64, 255, 32}};
  pthreadpool_t pool2 = pthreadpool_create(2), pool3 = pthreadpool_create(3);
  for (const Case& cs : cases) {
    for (int kind = 0; kind < 4; ++kind) {
      const size_t count = cs.n * cs.c * cs.l;
      std::vector<float> x = Random(count, -3, 3, static_cast<uint32_t>(cs.c * 13 + kind));
      if (kind == 1) for (auto& v : x) v = 2.5f;         // constant groups: var 0
      if (kind == 2) for (auto& v : x) v = 1e4f + v;     // large offset
      if (kind == 3) for (auto& v : x) v *= 1e5f;        // large scale
      const std::vector<float> g = Random(cs.c, 0.5, 1.5, 3), b = Random(cs.c, -1, 1, 4);
      for (int mode = 0; mode < 8; ++mode) {
        const F32GroupNormParams p{cs.n, cs.c, cs.l, cs.g, 1e-6f, (mode & 4) != 0};
        const float* gp = (mode & 1) ? g.data() : nullptr;
        const float* bp = (mode & 2) ? b.data() : nullptr;
        std::vector<double> ref;
        GroupNormDouble(p, x.data(), gp, bp, &ref);
        for (const auto& v : variants) {
          std::vector<float> y(count + 1, 77.f);
          v.fn(p, x.data(), gp, bp, y.data(), nullptr);
          double worst = 0;
          for (size_t i = 0; i < count; ++i) worst = std::max(worst, NormErr(y[i], ref[i]));
          EXPECT_LE(worst, 1e-5) << v.name << " c=" << cs.c << " l=" << cs.l << " g=" << cs.g << " kind=" << kind
                                 << " mode=" << mode;
          EXPECT_EQ(y[count], 77.f) << v.name << " wrote past the end";
          // Groups are whole tasks: any thread count gives the same bits
          // (checked on one configuration per shape: pools are slow to spin up).
          if (kind != 0 || mode != 7) continue;
          for (pthreadpool_t pool : {pool2, pool3}) {
            std::vector<float> yt(count + 1, 77.f);
            v.fn(p, x.data(), gp, bp, yt.data(), pool);
            EXPECT_EQ(0, std::memcmp(y.data(), yt.data(), (count + 1) * sizeof(float))) << v.name;
          }
        }
      }
    }
  }
  pthreadpool_destroy(pool2);
  pthreadpool_destroy(pool3);
}

TEST(OpsUpsample, NearestIntegerFactors) {
  struct Case { size_t outer, h, w, fh, fw; };
  const Case cases[] = {{6, 5, 7, 2, 2}, {1, 1, 1, 3, 3}, {2, 4, 33, 1, 2}, {3, 3, 2, 2, 1}, {1, 8, 9, 3, 4},
                        {512, 16, 16, 2, 2}};
  pthreadpool_t pool = pthreadpool_create(3);
  for (const Case& cs : cases) {
    const std::vector<float> x = Random(cs.outer * cs.h * cs.w, -1, 1, static_cast<uint32_t>(cs.w));
    const F32UpsampleParams p{cs.outer, cs.h, cs.w, cs.fh, cs.fw};
    const size_t oh = cs.h * cs.fh, ow = cs.w * cs.fw, count = cs.outer * oh * ow;
    for (pthreadpool_t pl : {static_cast<pthreadpool_t>(nullptr), pool}) {
      std::vector<float> y(count + 1, 77.f);
      f32_upsample_nearest(p, x.data(), y.data(), pl);
      for (size_t o = 0; o < cs.outer; ++o)
        for (size_t i = 0; i < oh; ++i)
          for (size_t j = 0; j < ow; ++j)
            ASSERT_EQ(y[(o * oh + i) * ow + j], x[(o * cs.h + i / cs.fh) * cs.w + j / cs.fw])
                << "outer " << o << " at " << i << "," << j << " factors " << cs.fh << "x" << cs.fw;
      EXPECT_EQ(y[count], 77.f);
    }
  }
  pthreadpool_destroy(pool);
}

}  // namespace
}  // namespace edge
