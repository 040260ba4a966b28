#include "converter/gptq.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>

#include "converter/calib_trajectories.h"
#include "ops/nvfp4.h"
#include "ops/quant_format.h"

namespace edge {
namespace conv {
namespace {

// h[i][j] += sum over rows m = 0, stride, 2 stride, ... < M of x[m][i] x[m][j],
// for j >= i only (the caller mirrors). Float partial sums over chunks of
// rows, added into double: fast enough on one core, exact enough for a
// rounding heuristic, and in a fixed order.
void AddGram(const float* x, int64_t M, int64_t K, int64_t stride, double* h) {
  constexpr int64_t kChunk = 128, kIb = 16;
  std::vector<float> tile(static_cast<size_t>(kIb * K));
  for (int64_t m0 = 0; m0 < M; m0 += kChunk * stride) {
    const int64_t m1 = std::min(M, m0 + kChunk * stride);
    for (int64_t i0 = 0; i0 < K; i0 += kIb) {
      const int64_t ib = std::min(kIb, K - i0);
      std::fill(tile.begin(), tile.end(), 0.f);
      for (int64_t m = m0; m < m1; m += stride) {
        const float* xr = x + m * K;
        for (int64_t ii = 0; ii < ib; ++ii) {
          const float a = xr[i0 + ii];
          if (a == 0.f) continue;
          float* t = tile.data() + ii * K;
          for (int64_t j = i0 + ii; j < K; ++j) t[j] += a * xr[j];
        }
      }
      for (int64_t ii = 0; ii < ib; ++ii) {
        double* hr = h + (i0 + ii) * K;
        const float* t = tile.data() + ii * K;
        for (int64_t j = i0 + ii; j < K; ++j) hr[j] += t[j];
      }
    }
  }
}

// In place: a (K x K, symmetric positive definite) -> its lower Cholesky
// factor (upper part zeroed). False when a pivot is not positive.
bool CholeskyLower(std::vector<double>* a, int64_t K) {
  double* A = a->data();
  for (int64_t j = 0; j < K; ++j) {
    double s = A[j * K + j];
    for (int64_t k = 0; k < j; ++k) s -= A[j * K + k] * A[j * K + k];
    if (!(s > 0)) return false;
    const double d = std::sqrt(s);
    A[j * K + j] = d;
    for (int64_t i = j + 1; i < K; ++i) {
      double v = A[i * K + j];
      for (int64_t k = 0; k < j; ++k) v -= A[i * K + k] * A[j * K + k];
      A[i * K + j] = v / d;
    }
  }
  for (int64_t i = 0; i < K; ++i)
    for (int64_t j = i + 1; j < K; ++j) A[i * K + j] = 0;
  return true;
}

// U (row-major upper) with U^T U = H^-1, from H (damped). False when H is
// not positive definite.
bool InverseUpperFactor(const std::vector<double>& h, int64_t K, std::vector<double>* U) {
  std::vector<double> L = h;
  if (!CholeskyLower(&L, K)) return false;
  // T = (L^-1)^T, upper: row i of T is column i of L^-1.
  std::vector<double> T(static_cast<size_t>(K * K), 0.0);
  for (int64_t j = 0; j < K; ++j) {  // column j of L^-1 by forward substitution
    T[j * K + j] = 1.0 / L[j * K + j];
    for (int64_t i = j + 1; i < K; ++i) {
      double v = 0;
      for (int64_t k = j; k < i; ++k) v += L[i * K + k] * T[j * K + k];
      T[j * K + i] = -v / L[i * K + i];
    }
  }
  // H^-1 = L^-T L^-1: element (i, j) = sum over k >= max(i, j) of T[i][k] T[j][k].
  std::vector<double> hinv(static_cast<size_t>(K * K));
  for (int64_t i = 0; i < K; ++i)
    for (int64_t j = 0; j <= i; ++j) {
      double v = 0;
      for (int64_t k = i; k < K; ++k) v += T[i * K + k] * T[j * K + k];
      hinv[i * K + j] = hinv[j * K + i] = v;
    }
  if (!CholeskyLower(&hinv, K)) return false;
  U->assign(static_cast<size_t>(K * K), 0.0);
  for (int64_t i = 0; i < K; ++i)
    for (int64_t j = i; j < K; ++j) (*U)[i * K + j] = hinv[j * K + i];
  return true;
}

// sum over rows of d^T H d, d = w - wq (the layer's summed squared output
// error on the calibration inputs).
double ProxyError(const float* w, const float* wq, int64_t N, int64_t K, const std::vector<double>& h) {
  std::vector<double> d(static_cast<size_t>(K));
  double e = 0;
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t k = 0; k < K; ++k) d[k] = double(w[n * K + k]) - (wq != nullptr ? double(wq[n * K + k]) : 0.0);
    for (int64_t i = 0; i < K; ++i) {
      if (d[i] == 0) continue;
      const double* hr = h.data() + i * K;
      double v = 0;
      for (int64_t j = 0; j < K; ++j) v += hr[j] * d[j];
      e += d[i] * v;
    }
  }
  return e;
}

}  // namespace

std::vector<InputGram> CollectInputGrams(const std::vector<uint8_t>& image, const std::vector<int>& ops,
                                         const QuantOptions& o) {
  const std::string context = "gptq statistics";
  CalibSession cs = OpenCalibSession(image, "--weight-rounding gptq", context);
  const Model* model = cs.model.get();
  std::vector<InputGram> grams(ops.size());
  std::map<int, std::vector<size_t>> of_op;  // an op listed twice gets both grams filled
  for (size_t i = 0; i < ops.size(); ++i) {
    if (ops[i] < 0 || ops[i] >= model->num_nodes()) Fail(kExitConvert, context + ": internal: op index");
    const TensorInfo& x = model->tensor(model->node(ops[i]).inputs[0]);
    grams[i].K = x.dim(-1);
    grams[i].h.assign(static_cast<size_t>(grams[i].K * grams[i].K), 0.0);
    of_op[ops[i]].push_back(i);
  }
  RunCalibTrajectories(&cs, o, context, [&](int op, int, bool after) {
    if (after) return;
    auto it = of_op.find(op);
    if (it == of_op.end()) return;
    const int t = model->node(op).inputs[0];
    const float* x = static_cast<const float*>(cs.session->data(t));
    for (size_t gi : it->second) {
      InputGram& g = grams[gi];
      const int64_t M = model->tensor(t).num_elements / g.K;
      const int64_t stride = std::max<int64_t>(1, (M + kGramRowsPerRun - 1) / kGramRowsPerRun);
      AddGram(x, M, g.K, stride, g.h.data());
      g.rows += (M + stride - 1) / stride;
    }
  }, /*cover_classes=*/true);
  for (InputGram& g : grams)
    for (int64_t i = 0; i < g.K; ++i)
      for (int64_t j = i + 1; j < g.K; ++j) g.h[j * g.K + i] = g.h[i * g.K + j];
  return grams;
}

QuantWeightPtr QuantizeWeightGptq(const Graph& g, const LinearLayer& l, Precision p, const QuantOptions& o,
                                  const InputGram& gram, GptqReport* report) {
  if (p != Precision::kInt8 && p != Precision::kNvfp4) Fail(kExitConvert, "internal: gptq at fp32");
  if (gram.K != l.K) Fail(kExitConvert, "internal: gptq statistics of '" + l.name + "' have the wrong size");
  const int64_t N = l.N, K = l.K;
  const float* W = g.Const(l.weight_value)->f.data();
  const QuantFormatTraits& f = QuantFormatOf(static_cast<QuantFormat>(p));

  // Nearest rounding (the plain quantizer): checks finiteness, and the
  // candidate the error-feedback result has to beat.
  QuantWeightPtr nearest = QuantizeWeight(g, l, p, o.scale_search);
  std::vector<float> deq(static_cast<size_t>(N * K));
  f.dequantize_packed(nearest->data.data(), nearest->scales.data(), nearest->tensor_scale, N, K, deq.data());
  const double norm = std::max(ProxyError(W, nullptr, N, K, gram.h), 1e-300);
  GptqReport rep;
  rep.proxy_nearest = ProxyError(W, deq.data(), N, K, gram.h) / norm;
  rep.proxy_gptq = rep.proxy_nearest;

  // Column order: natural, or (o.gptq_act_order) by decreasing input
  // energy H[k][k], so that the columns that matter most are rounded first
  // and later ones absorb their error. perm[t] = column rounded t-th.
  std::vector<int64_t> perm(static_cast<size_t>(K));
  for (int64_t k = 0; k < K; ++k) perm[k] = k;
  if (o.gptq_act_order)
    std::stable_sort(perm.begin(), perm.end(),
                     [&](int64_t a, int64_t b) { return gram.h[a * K + a] > gram.h[b * K + b]; });
  // Damped H in that order, dead inputs decoupled.
  std::vector<double> h(static_cast<size_t>(K * K));
  for (int64_t i = 0; i < K; ++i)
    for (int64_t j = 0; j < K; ++j) h[i * K + j] = gram.h[perm[i] * K + perm[j]];
  double mean_diag = 0;
  for (int64_t i = 0; i < K; ++i) mean_diag += h[i * K + i] / K;
  if (!(mean_diag > 0)) {
    if (report) *report = rep;
    return nearest;
  }
  for (int64_t i = 0; i < K; ++i)
    if (h[i * K + i] <= 0) {
      for (int64_t j = 0; j < K; ++j) h[i * K + j] = h[j * K + i] = 0;
      h[i * K + i] = mean_diag;
    }
  std::vector<double> U;
  bool ok = false;
  for (double damp = o.gptq_damp; damp <= 1.0 && !ok; damp *= 10) {
    std::vector<double> hd = h;
    for (int64_t i = 0; i < K; ++i) hd[i * K + i] += damp * mean_diag;
    ok = InverseUpperFactor(hd, K, &U);
  }
  if (!ok) {
    if (report) *report = rep;
    return nearest;
  }

  std::vector<uint8_t> grows(QuantRowMajorBytes(f, N, K), 0), gscales(QuantRowMajorScaleBytes(f, N, K), 0);
  std::vector<float> gdeq(static_cast<size_t>(N * K));
  std::vector<double> w(static_cast<size_t>(K));  // the row, in rounding order
  float g_enc = 1.f, g_dec = 1.f;
  if (p == Precision::kNvfp4) {
    float amax = 0.f;
    for (int64_t i = 0; i < N * K; ++i) amax = std::fmax(amax, std::fabs(W[i]));
    Nvfp4TensorScales(amax, &g_enc, &g_dec);
  }
  const int64_t nb = (K + kNvfp4BlockSize - 1) / kNvfp4BlockSize;
  const int64_t row_bytes = (K + 1) / 2;
  // NVFP4 block scales: in natural order each block's scale is chosen from
  // its values as updated when its first column is reached; in act order a
  // block's columns are spread over the whole pass, so its scale is chosen
  // up front from the original values (static groups).
  const bool static_scales = o.gptq_act_order;
  for (int64_t n = 0; n < N; ++n) {
    const float* wr = W + n * K;
    for (int64_t t = 0; t < K; ++t) w[t] = wr[perm[t]];
    float qscale = 1.f;  // int8: the original row's scale
    if (p == Precision::kInt8) {
      float amax = 0.f;
      for (int64_t k = 0; k < K; ++k) amax = std::fmax(amax, std::fabs(wr[k]));
      qscale = amax > 0.f ? amax / 127.0f : 1.0f;
      std::memcpy(gscales.data() + 4 * n, &qscale, 4);
    } else if (static_scales) {
      for (int64_t b = 0; b < nb; ++b) {
        const int64_t len = std::min<int64_t>(kNvfp4BlockSize, K - b * kNvfp4BlockSize);
        gscales[n * nb + b] = Nvfp4BlockScale(wr + b * kNvfp4BlockSize, static_cast<size_t>(len), g_enc, g_dec,
                                              o.scale_search);
      }
    }
    for (int64_t t = 0; t < K; ++t) {
      const int64_t k = perm[t];
      float dq;
      if (p == Precision::kNvfp4) {
        uint8_t& sb = gscales[n * nb + k / kNvfp4BlockSize];
        if (!static_scales && k % kNvfp4BlockSize == 0) {  // natural order: t == k
          float blk[kNvfp4BlockSize];
          const int64_t len = std::min<int64_t>(kNvfp4BlockSize, K - k);
          for (int64_t j = 0; j < len; ++j) blk[j] = static_cast<float>(w[t + j]);
          sb = Nvfp4BlockScale(blk, static_cast<size_t>(len), g_enc, g_dec, o.scale_search);
        }
        const uint8_t c = Nvfp4Code(static_cast<float>(w[t]), sb, g_dec);
        grows[n * row_bytes + k / 2] |= static_cast<uint8_t>((k & 1) ? c << 4 : c);
        dq = (E2M1Decode(c) * E4M3Decode(sb)) * g_dec;  // the decoder's order
      } else {
        float v = std::nearbyint(static_cast<float>(w[t]) / qscale);
        v = std::fmin(std::fmax(v, -127.0f), 127.0f);
        grows[n * K + k] = static_cast<uint8_t>(static_cast<int8_t>(v));
        dq = v * qscale;
      }
      gdeq[n * K + k] = dq;
      const double e = (w[t] - dq) / U[t * K + t];
      const double* u = U.data() + t * K;
      for (int64_t j = t + 1; j < K; ++j) w[j] -= e * u[j];
    }
  }
  rep.proxy_gptq = ProxyError(W, gdeq.data(), N, K, gram.h) / norm;
  rep.used = rep.proxy_gptq < rep.proxy_nearest;
  if (report) *report = rep;
  if (!rep.used) return nearest;
  return PackQuantWeight(l, p, grows, gscales, p == Precision::kNvfp4 ? g_dec : 1.f);
}

}  // namespace conv
}  // namespace edge
