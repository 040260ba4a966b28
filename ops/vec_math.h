// The vector-math library of every F32 kernel family: exp, erf, tanh,
// sigmoid, SiLU and GELU (erf and tanh forms), written once over the SIMD
// layer of ops/f32_vec.h and instantiated per ISA file (VecScalar, VecAvx2,
// VecAvx512, VecNeon). The GEMM epilogue and the activation pass after
// XNNPACK or the quantized GEMMs (Activate), the Gelu / SiLU / Unary ops, the
// softmax, GroupNorm's fused SiLU and both attention tiles all call these
// functions, so a model computes each of them one way whichever kernel runs it.
// The vector types live in an anonymous namespace, so every instantiation is
// local to its file and code compiled for one ISA is never linked into
// another's caller.
//
// NaN policy: NaN in, NaN out, for every function here (clamps keep the data
// as the second min/max operand, which ops/f32_vec.h defines to return it).
//
// Accuracy: the table in docs/vec_math.md, measured against double math by
// tests/unit/vec_math_accuracy_test.cc for every ISA this CPU runs (it asserts
// the bounds). Every ISA runs the same operations (VecScalar::fma is the
// correctly rounded std::fma), so they differ only where a compiler contracts
// a separate multiply and add. In short, max error in ulp where the result is
// a normal float (ulp = 2^-23 relative, ~1.19e-7):
//   Exp 1.02 (exactly 0 below -104, +inf above 88.73); Exp2Fast 43 on [-125, 0]
//   Erf 2.4, Tanh 1.3, Sigmoid 2.3 everywhere
//   Silu 47, Gelu 12, GeluTanh 6: the worst cases are results next to FLT_MIN
//   (x ~ -91, -13, -10); GELU's far tail underflows to -0, never NaN.
// +-1e4 and +-FLT_MAX give the limits (0, -0, 1, x, inf) with no NaN.
// The polynomial coefficients below were fitted for this file (weighted
// least squares on Chebyshev nodes, Lawson reweighting) and then rounded to
// float; the error figures above include that rounding.
#pragma once

namespace edge {
namespace vecmath {

template <class V>
using VT = typename V::T;

template <class V>
inline VT<V> Poly(VT<V> x, const float* c, int degree) {
  VT<V> r = V::set1(c[degree]);
  for (int i = degree - 1; i >= 0; --i) r = V::fma(r, x, V::set1(c[i]));
  return r;
}

// e^r on |r| <= ln2/2 (+ a little slack), degree 6: rel err 1.7e-8 in exact
// arithmetic; float Horner adds < 1 ulp.
template <class V>
inline VT<V> ExpPoly(VT<V> r) {
  static constexpr float kC[7] = {1.0f, 1.0f, 0.49999991059303284f, 0.16666419804096222f,
                                  0.04166822507977486f, 0.008374815806746483f,
                                  0.0013836842263117433f};
  return Poly<V>(r, kC, 6);
}

// ln2 split so that n * kLn2Hi is exact for |n| <= 2^9 (Cody-Waite).
constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2Hi = 0.693359375f;
constexpr float kLn2Lo = -2.12194440e-4f;
constexpr float kExpMax = 89.0f;     // e^89 > FLT_MAX: overflows to +inf
constexpr float kExpMin = -104.0f;   // e^-104 < FLT_TRUE_MIN/2: rounds to 0

// e^x. NaN in, NaN out (clamps keep the data as the second min/max operand).
template <class V>
inline VT<V> Exp(VT<V> x) {
  x = V::max(V::set1(kExpMin), V::min(V::set1(kExpMax), x));
  const VT<V> n = V::round(V::mul(x, V::set1(kLog2e)));
  VT<V> r = V::fnma(n, V::set1(kLn2Hi), x);
  r = V::fnma(n, V::set1(kLn2Lo), r);
  return V::scale_pow2(ExpPoly<V>(r), n);
}

// e^(hi + lo) where hi may be large and lo is a small correction (|lo| <~ 4)
// that would be lost if added to hi first: the reduction subtracts n*ln2 from
// hi exactly, then adds lo to the small remainder.
template <class V>
inline VT<V> ExpHiLo(VT<V> hi, VT<V> lo) {
  hi = V::max(V::set1(kExpMin), V::min(V::set1(kExpMax), hi));
  const VT<V> n = V::round(V::mul(V::add(hi, lo), V::set1(kLog2e)));
  VT<V> r = V::fnma(n, V::set1(kLn2Hi), hi);
  r = V::fnma(n, V::set1(kLn2Lo), r);
  r = V::add(r, lo);
  return V::scale_pow2(ExpPoly<V>(r), n);
}

// 2^x for x <= 0 where a relative error of 3e-6 is enough: the INT8
// attention, whose probabilities are quantized to 15 bits and whose inner loop
// is short enough that the exp shows (its logits are scaled by log2(e) up
// front, so no multiply is spent here). n = round(x) from the shifter, a
// degree-4 polynomial for 2^(x - n) on [-1/2, 1/2] (fitted for this file,
// minimax-weighted least squares), 2^n built in the exponent field: 11
// operations on AVX2. x < -125 gives 2^-125 (~2.4e-38), never a subnormal or
// 0; x > 0 is outside its domain (2^n is built for n <= 127 only).
template <class V>
inline VT<V> Exp2Fast(VT<V> x) {
  static constexpr float kC[5] = {1.0f, 0.6931241750717163f, 0.24024099111557007f,
                                  0.05590643361210823f, 0.00958284642547369f};  // c0 = 1: 2^0 = 1
  x = V::max(V::set1(-125.0f), x);
  const VT<V> shifter = V::set1(12582912.0f);  // 1.5 * 2^23
  const VT<V> n = V::sub(V::add(x, shifter), shifter);
  return V::mul(Poly<V>(V::sub(x, n), kC, 4), V::pow2i(n));
}

// erfc(z) for z >= 0, given z and z^2 = z2h + z2l (an exact split, so that
// e^-z^2 keeps full relative accuracy up to z^2 ~ 100).
//   erfc(z) = t * exp(-z^2 + P(t - 1/2)),  t = 1 / (1 + z/2)
// P fitted on z in [0, 15]: |error of P| <= 1.2e-7 (float evaluation
// included), i.e. relative error of erfc <= 3e-7 before the final rounding.
template <class V>
inline VT<V> Erfc(VT<V> z, VT<V> z2h, VT<V> z2l) {
  static constexpr float kP[11] = {
      -6.717940569e-01f, 1.345286250e+00f,  1.893689930e-01f, -3.751360476e-01f,
      -1.577480435e-01f, 2.813677192e-01f,  1.089453697e-01f, -2.842113376e-01f,
      -1.578123122e-02f, 2.279291600e-01f,  -1.004998758e-01f};
  const VT<V> t = V::div(V::set1(1.0f), V::fma(z, V::set1(0.5f), V::set1(1.0f)));
  const VT<V> p = Poly<V>(V::sub(t, V::set1(0.5f)), kP, 10);
  return V::mul(t, ExpHiLo<V>(V::neg(z2h), V::sub(p, z2l)));
}

// erf(x) = x * Q(x^2) for |x| < 1 (rel err 7e-8), else sign(x) * (1 - erfc(|x|)).
template <class V>
inline VT<V> Erf(VT<V> x) {
  static constexpr float kQ[7] = {1.1283791065216064f,    -0.3761262595653534f,
                                  0.1128358542919159f,    -0.026853816583752632f,
                                  0.005188334733247757f,  -0.0008010247838683426f,
                                  7.854026625864208e-05f};
  const VT<V> ax = V::abs(x);
  const VT<V> small = V::mul(x, Poly<V>(V::mul(x, x), kQ, 6));
  const VT<V> z = V::min(V::set1(10.0f), ax);  // erfc(10) < 2^-149
  const VT<V> z2h = V::mul(z, z);
  const VT<V> z2l = V::fms(z, z, z2h);
  const VT<V> big = V::sub(V::set1(1.0f), Erfc<V>(z, z2h, z2l));
  return V::select(V::lt(ax, V::set1(1.0f)), small, V::xor_(big, V::sign_bit(x)));
}

// tanh(x) = x * R(x^2) for |x| < 0.625 (rel err 1.1e-8), else
// sign(x) * (1 - 2 / (1 + e^(2|x|))).
template <class V>
inline VT<V> Tanh(VT<V> x) {
  static constexpr float kR[6] = {1.0f, -0.3333325982093811f, 0.13331128656864166f,
                                  -0.05372113734483719f, 0.020591162145137787f,
                                  -0.00566015113145113f};
  const VT<V> ax = V::abs(x);
  const VT<V> small = V::mul(x, Poly<V>(V::mul(x, x), kR, 5));
  const VT<V> e = Exp<V>(V::add(ax, ax));
  const VT<V> big = V::sub(V::set1(1.0f), V::div(V::set1(2.0f), V::add(V::set1(1.0f), e)));
  return V::select(V::lt(ax, V::set1(0.625f)), small, V::xor_(big, V::sign_bit(x)));
}

// x / (1 + e^s) for s = hi + lo, written so that e^s never overflows:
// with e = e^-|s|, it is x / (1 + e) for s <= 0 and x * e / (1 + e) for s > 0.
// (x / (1 + inf) would lose results that are still normal floats, e.g.
// silu(-95) = -5e-40 * 95.)
template <class V>
inline VT<V> DivOnePlusExp(VT<V> x, VT<V> hi, VT<V> lo) {
  const auto pos = V::lt(V::zero(), hi);
  const VT<V> e = ExpHiLo<V>(V::select(pos, V::neg(hi), hi), V::select(pos, V::neg(lo), lo));
  const VT<V> q = V::div(x, V::add(V::set1(1.0f), e));
  return V::select(pos, V::mul(q, e), q);
}

template <class V>
inline VT<V> Sigmoid(VT<V> x) {
  return DivOnePlusExp<V>(V::set1(1.0f), V::neg(x), V::zero());
}

// x * sigmoid(x) as x / (1 + e^-x): one rounding less than the product.
template <class V>
inline VT<V> Silu(VT<V> x) {
  return DivOnePlusExp<V>(x, V::neg(x), V::zero());
}

// gelu(x) = x * Phi(x), Phi(x) = erfc(-x/sqrt2)/2. For x < 0 Phi is computed
// directly from erfc (no 1 + erf(x) cancellation), so the relative error
// stays small down to the underflow of the result.
template <class V>
inline VT<V> Gelu(VT<V> x) {
  const VT<V> xc = V::max(V::set1(-30.0f), V::min(V::set1(30.0f), x));
  const VT<V> z = V::mul(V::abs(xc), V::set1(0.70710678118654752f));
  const VT<V> x2h = V::mul(xc, xc);
  const VT<V> x2l = V::fms(xc, xc, x2h);
  const VT<V> half = V::set1(0.5f);
  // z^2 = x^2 / 2, exactly as (x2h + x2l) / 2.
  const VT<V> q = V::mul(half, Erfc<V>(z, V::mul(x2h, half), V::mul(x2l, half)));  // Phi(-|x|)
  const VT<V> phi = V::select(V::ge(xc, V::zero()), V::sub(V::set1(1.0f), q), q);
  return V::mul(x, phi);
}

// Tanh-approximated gelu: 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3),
// computed as x / (1 + e^(-2u)) (no cancellation for x < 0). -2u is formed in
// double-float arithmetic (hi + lo) because e^(-2u) amplifies its rounding
// error by |2u| (up to ~87 before the result underflows).
template <class V>
inline VT<V> GeluTanh(VT<V> x) {
  // -2*sqrt(2/pi) and -2*sqrt(2/pi)*0.044715, each as float hi + lo.
  const VT<V> a_hi = V::set1(-1.5957691669464111f), a_lo = V::set1(4.534068054340423e-08f);
  const VT<V> b_hi = V::set1(-0.07135481387376785f), b_lo = V::set1(-2.3988324659995897e-09f);
  const VT<V> xc = V::max(V::set1(-30.0f), V::min(V::set1(30.0f), x));
  const VT<V> x2h = V::mul(xc, xc);
  const VT<V> x2l = V::fms(xc, xc, x2h);
  const VT<V> x3h = V::mul(x2h, xc);
  const VT<V> x3l = V::fma(x2l, xc, V::fms(x2h, xc, x3h));
  const VT<V> p1h = V::mul(a_hi, xc);
  const VT<V> p1l = V::fma(a_lo, xc, V::fms(a_hi, xc, p1h));
  const VT<V> p2h = V::mul(b_hi, x3h);
  const VT<V> p2l = V::fma(b_lo, x3h, V::fma(b_hi, x3l, V::fms(b_hi, x3h, p2h)));
  // Two-sum of the high parts.
  const VT<V> s = V::add(p1h, p2h);
  const VT<V> bb = V::sub(s, p1h);
  const VT<V> err = V::add(V::sub(p1h, V::sub(s, bb)), V::sub(p2h, bb));
  return DivOnePlusExp<V>(x, s, V::add(err, V::add(p1l, p2l)));
}

// The fused activations of the GEMM family by GemmActivation code
// (ops/f32_activation_pass.h): 1 GELU, 2 GELU-tanh, 3 SiLU, else identity.
template <class V>
inline VT<V> Activate(VT<V> x, int act) {
  switch (act) {
    case 1: return Gelu<V>(x);
    case 2: return GeluTanh<V>(x);
    case 3: return Silu<V>(x);
    default: return x;
  }
}

}  // namespace vecmath
}  // namespace edge
