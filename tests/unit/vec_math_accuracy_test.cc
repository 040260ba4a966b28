// The accuracy table of the vector-math library (ops/vec_math.h): every
// function, with every ISA's instantiation this CPU runs (scalar always, AVX2
// and AVX-512 on x86-64, NEON on AArch64 and on AArch32 with VFPv4), against
// double math on a dense grid of its working range, on random bit patterns
// (every magnitude, both signs) and on the special values (+-0, subnormals,
// +-FLT_MIN, huge values, +-Inf, NaN). It prints the table that docs/vec_math.md shows and asserts
// the bounds written there, and the NaN policy: NaN in, NaN out.
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "ops/cpu_features.h"
#include "ops/f32_activation.h"

namespace edge {
namespace {

struct Isa {
  const char* name;
  f32_vmath_fn fn;
  double flush_below = 0;  // results below this magnitude may be 0 (AArch32 NEON)
};

std::vector<Isa> Isas() {
  std::vector<Isa> v = {{"scalar", f32_vmath__scalar}};
#if EDGE_ARCH_X86_64
  const CpuFeatures& cpu = DetectCpuFeatures();
  if (IsaLevelSupported(IsaLevel::kAvx2, cpu)) v.push_back({"avx2", f32_vmath__avx2});
  if (IsaLevelSupported(IsaLevel::kAvx512, cpu)) v.push_back({"avx512", f32_vmath__avx512});
#endif
#if EDGE_ARCH_AARCH64
  v.push_back({"neon", f32_vmath__neon});
#elif EDGE_ARCH_ARM32
  if (ArmF32NeonSupported(DetectCpuFeatures())) v.push_back({"neon", f32_vmath__neon, kArm32NeonFlushBelow});
#endif
  return v;
}

// The reference in double, with the limits at +-Inf written out where the
// double formula would give inf/inf.
double Ref(VecMathFn f, double x) {
  switch (f) {
    case VecMathFn::kExp: return std::exp(x);
    case VecMathFn::kExp2Fast: return std::exp2(x);
    case VecMathFn::kErf: return std::erf(x);
    case VecMathFn::kTanh: return std::tanh(x);
    case VecMathFn::kSigmoid: return 1.0 / (1.0 + std::exp(-x));
    case VecMathFn::kSilu: return x / (1.0 + std::exp(-x));
    case VecMathFn::kGelu: return 0.5 * x * std::erfc(-x / std::sqrt(2.0));
    case VecMathFn::kGeluTanh: {
      const double u = std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x);
      return x / (1.0 + std::exp(-2.0 * u));
    }
    case VecMathFn::kCount: break;
  }
  return NAN;
}

// The spacing of floats at |r| (2^-149 below FLT_MIN).
double UlpAt(double r) {
  const double a = std::fabs(r);
  if (a < FLT_MIN) return std::ldexp(1.0, -149);
  int e;
  std::frexp(a, &e);  // a = m * 2^e, m in [0.5, 1)
  return std::ldexp(1.0, e - 24);
}

struct Case {
  VecMathFn fn;
  const char* name;
  double lo, hi;         // dense grid
  double max_ulp;        // bound where the reference is a normal float
  double max_abs;        // bound where |reference| <= 1
  bool nonpositive_only; // domain [lo, 0] (Exp2Fast; below, see NanInfAndZero)
};

// Bounds: the measured maxima (printed by the test) rounded up.
const Case kCases[] = {
    {VecMathFn::kExp, "exp", -110, 100, 1.5, 2e-7, false},
    {VecMathFn::kExp2Fast, "exp2_fast", -125, 0, 45, 4e-6, true},
    {VecMathFn::kErf, "erf", -10, 10, 2.5, 2e-7, false},
    {VecMathFn::kTanh, "tanh", -20, 20, 1.5, 1e-7, false},
    {VecMathFn::kSigmoid, "sigmoid", -110, 100, 2.5, 1e-7, false},
    {VecMathFn::kSilu, "silu", -110, 100, 50, 2e-7, false},
    {VecMathFn::kGelu, "gelu", -20, 20, 12, 2e-7, false},
    {VecMathFn::kGeluTanh, "gelu_tanh", -20, 20, 6, 2e-7, false},
};

float FromBits(uint32_t b) {
  float f;
  std::memcpy(&f, &b, sizeof(f));
  return f;
}

std::vector<float> Inputs(const Case& c) {
  std::vector<float> x;
  const size_t grid = 1000003;  // odd: the tail of every vector loop runs
  for (size_t i = 0; i < grid; ++i)
    x.push_back(static_cast<float>(c.lo + (c.hi - c.lo) * static_cast<double>(i) / (grid - 1)));
  std::mt19937 rng(7);
  for (int i = 0; i < 300000; ++i) {
    const float v = FromBits(static_cast<uint32_t>(rng()));
    if (!std::isnan(v)) x.push_back(v);
  }
  const float specials[] = {0.f,      1e-40f,   FLT_TRUE_MIN, FLT_MIN, 1e-30f, 1e-7f, 0.5f,
                            1.f,      10.f,     30.f,         88.5f,   89.f,   100.f, 1e4f,
                            1e30f,    FLT_MAX};
  for (float s : specials) {
    x.push_back(s);
    x.push_back(-s);
  }
  if (c.nonpositive_only) {
    std::vector<float> in;
    for (float v : x)
      if (-std::fabs(v) >= c.lo) in.push_back(-std::fabs(v));
    return in;
  }
  return x;
}

struct Stats {
  double ulp = 0, abs = 0;
  float ulp_x = 0, abs_x = 0;
};

TEST(VecMathAccuracy, TableAgainstDouble) {
  const std::vector<Isa> isas = Isas();
  std::printf("  %-10s %-7s %12s %12s   (max error vs double; ulp where the result is normal)\n",
              "function", "isa", "max ulp", "abs, |f|<=1");
  for (const Case& c : kCases) {
    const std::vector<float> x = Inputs(c);
    std::vector<double> ref(x.size());
    for (size_t i = 0; i < x.size(); ++i) ref[i] = Ref(c.fn, x[i]);
    std::vector<float> y(x.size());
    for (const Isa& isa : isas) {
      isa.fn(c.fn, x.size(), x.data(), y.data());
      Stats s;
      for (size_t i = 0; i < x.size(); ++i) {
        const double r = ref[i];
        if (!std::isfinite(r)) continue;  // the infinite limits are checked below
        if (std::fabs(r) > FLT_MAX) {     // overflows as a float
          EXPECT_EQ(y[i], static_cast<float>(r)) << isa.name << " " << c.name << "(" << x[i] << ")";
          continue;
        }
        ASSERT_FALSE(std::isnan(y[i])) << isa.name << " " << c.name << "(" << x[i] << ")";
        if (std::fabs(r) < isa.flush_below) {  // flushed or not: no ulp measure there
          EXPECT_LE(std::fabs(y[i]), isa.flush_below) << isa.name << " " << c.name << "(" << x[i] << ")";
          continue;
        }
        const double d = std::fabs(y[i] - r);
        if (std::fabs(r) >= FLT_MIN && d / UlpAt(r) > s.ulp) {
          s.ulp = d / UlpAt(r);
          s.ulp_x = x[i];
        }
        if (std::fabs(r) <= 1 && d > s.abs) {
          s.abs = d;
          s.abs_x = x[i];
        }
      }
      std::printf("  %-10s %-7s %12.3g %12.3g   (at x=%g, %g)\n", c.name, isa.name, s.ulp, s.abs,
                  s.ulp_x, s.abs_x);
      EXPECT_LE(s.ulp, c.max_ulp) << isa.name << " " << c.name << " at x=" << s.ulp_x;
      EXPECT_LE(s.abs, c.max_abs) << isa.name << " " << c.name << " at x=" << s.abs_x;
    }
  }
}

// NaN in, NaN out for every function; +-Inf give the limits (-Inf for the
// x * F(x) forms is -Inf * 0: NaN, as PyTorch's gelu and silu give).
TEST(VecMathAccuracy, NanInfAndZero) {
  const float inf = INFINITY;
  struct Want {
    VecMathFn fn;
    float at_pinf, at_ninf, at_zero;
  };
  const Want wants[] = {
      {VecMathFn::kExp, inf, 0.f, 1.f},          {VecMathFn::kErf, 1.f, -1.f, 0.f},
      {VecMathFn::kTanh, 1.f, -1.f, 0.f},        {VecMathFn::kSigmoid, 1.f, 0.f, 0.5f},
      {VecMathFn::kSilu, inf, NAN, 0.f},         {VecMathFn::kGelu, inf, NAN, 0.f},
      {VecMathFn::kGeluTanh, inf, NAN, 0.f},
  };
  for (const Isa& isa : Isas()) {
    for (const Want& w : wants) {
      const float in[5] = {NAN, -NAN, inf, -inf, 0.f};
      float out[5];
      isa.fn(w.fn, 5, in, out);
      EXPECT_TRUE(std::isnan(out[0]) && std::isnan(out[1])) << isa.name << " fn " << int(w.fn);
      EXPECT_TRUE(out[2] == w.at_pinf) << isa.name << " fn " << int(w.fn) << " +inf -> " << out[2];
      EXPECT_TRUE(out[3] == w.at_ninf || (std::isnan(w.at_ninf) && std::isnan(out[3])))
          << isa.name << " fn " << int(w.fn) << " -inf -> " << out[3];
      EXPECT_EQ(out[4], w.at_zero) << isa.name << " fn " << int(w.fn);
    }
    // Exp2Fast: its domain is x <= 0; below -125 it gives 2^-125.
    const float in[4] = {NAN, -inf, -0.f, -1e4f};
    float out[4];
    isa.fn(VecMathFn::kExp2Fast, 4, in, out);
    EXPECT_TRUE(std::isnan(out[0])) << isa.name;
    EXPECT_LT(out[1], 3e-38f) << isa.name;
    EXPECT_EQ(out[2], 1.f) << isa.name;
    EXPECT_LT(out[3], 3e-38f) << isa.name;
  }
}

// The ISAs run the same operations: their results agree to within the
// rounding of a contracted multiply-add (a few ulp), never more.
TEST(VecMathAccuracy, IsasAgree) {
  const std::vector<Isa> isas = Isas();
  if (isas.size() < 2) GTEST_SKIP() << "one ISA on this CPU";
  for (const Case& c : kCases) {
    const std::vector<float> x = Inputs(c);
    std::vector<float> y0(x.size()), y(x.size());
    isas[0].fn(c.fn, x.size(), x.data(), y0.data());
    for (size_t k = 1; k < isas.size(); ++k) {
      isas[k].fn(c.fn, x.size(), x.data(), y.data());
      double worst = 0;
      for (size_t i = 0; i < x.size(); ++i) {
        if (std::isnan(y0[i]) || std::isnan(y[i])) {
          EXPECT_EQ(std::isnan(y0[i]), std::isnan(y[i])) << isas[k].name << " " << c.name << "(" << x[i] << ")";
          continue;
        }
        if (y0[i] == y[i]) continue;
        if (std::fabs(y0[i]) < isas[k].flush_below && std::fabs(y[i]) <= isas[k].flush_below) continue;
        worst = std::fmax(worst, std::fabs(double(y[i]) - y0[i]) / UlpAt(y0[i]));
      }
      EXPECT_LE(worst, 4.0) << isas[k].name << " vs scalar, " << c.name;
    }
  }
}

}  // namespace
}  // namespace edge
