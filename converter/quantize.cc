#include "converter/quantize.h"

#include <fnmatch.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "ops/nvfp4.h"
#include "ops/quant_gemm.h"

namespace edge {
namespace conv {

const char* PrecisionName(Precision p) {
  switch (p) {
    case Precision::kInt8: return "int8";
    case Precision::kNvfp4: return "nvfp4";
    default: return "fp32";
  }
}

bool ParsePrecision(const std::string& s, Precision* p) {
  if (s == "fp32") *p = Precision::kFp32;
  else if (s == "int8") *p = Precision::kInt8;
  else if (s == "nvfp4") *p = Precision::kNvfp4;
  else return false;
  return true;
}

double StoredBits(Precision p, int64_t N, int64_t K) {
  const double elems = static_cast<double>(N) * static_cast<double>(K);
  if (elems <= 0) return 0;
  const size_t n = static_cast<size_t>(N), k = static_cast<size_t>(K);
  switch (p) {
    case Precision::kInt8:
      return 8.0 * static_cast<double>(Qs8PackedBytes(n, k) + 4 * n) / elems;
    case Precision::kNvfp4:
      return 8.0 * static_cast<double>(Nvfp4PackedCodeBytes(n, k) + Nvfp4PackedScaleBytes(n, k)) / elems;
    default:
      return 32.0;
  }
}

std::vector<LinearLayer> PlanLinears(Graph& g, const std::vector<Region>& regions, const QuantOptions& o) {
  std::vector<LinearLayer> layers;
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    const Node& n = g.nodes[k];
    if (n.dead || !n.edge || n.etype != fb::OpType::Linear || n.in.size() < 2) continue;
    const Tensor* w = g.Const(n.in[1]);
    if (w == nullptr || !w->is_float() || w->shape.size() != 2) continue;
    LinearLayer l;
    l.node = static_cast<int>(k);
    l.name = n.name;
    l.weight_value = n.in[1];
    l.weight = g.values[n.in[1]].name;
    l.N = w->shape[0];
    l.K = w->shape[1];
    for (size_t r = 0; r < regions.size(); ++r)
      if (l.node >= regions[r].first_op && l.node <= regions[r].last_op) l.region = static_cast<int>(r);
    layers.push_back(l);
  }
  Precision global = Precision::kFp32;
  if (o.mode == "int8" || o.mode == "mixed") global = Precision::kInt8;  // mixed: refined later
  else if (o.mode == "nvfp4") global = Precision::kNvfp4;
  for (size_t i = 0; i < layers.size(); ++i) {
    LinearLayer& l = layers[i];
    if (l.K < 16) {
      l.reason = "K < 16";
    } else if (l.N * l.K < o.min_size) {
      l.reason = "N*K < " + std::to_string(o.min_size);
    } else if (i + 1 == layers.size() && !o.quantize_final) {
      l.reason = "final layer";
    } else {
      l.candidate = true;
    }
    if (l.candidate) {
      l.precision = global;
      l.reason = o.mode == "mixed" ? "mixed" : "--precision " + o.mode;
    }
  }
  for (const auto& ov : o.overrides) {
    bool hit = false;
    for (LinearLayer& l : layers) {
      if (fnmatch(ov.first.c_str(), l.name.c_str(), 0) == 0 || fnmatch(ov.first.c_str(), l.weight.c_str(), 0) == 0) {
        l.precision = ov.second;
        l.overridden = true;
        l.reason = "override " + ov.first;
        hit = true;
      }
    }
    if (!hit) Fail(kExitUsage, "--precision-override: '" + ov.first + "' matches no Linear op or weight name");
  }
  return layers;
}

QuantWeightPtr QuantizeWeight(const Graph& g, const LinearLayer& l, Precision p) {
  const Tensor& t = *g.Const(l.weight_value);
  const size_t N = static_cast<size_t>(l.N), K = static_cast<size_t>(l.K);
  const float* w = t.f.data();
  for (size_t n = 0; n < N; ++n)
    for (size_t k = 0; k < K; ++k)
      if (!std::isfinite(w[n * K + k]))
        Fail(kExitConvert, "weight '" + l.weight + "' has a NaN/Inf at (" + std::to_string(n) + ", " +
                               std::to_string(k) + ") (Linear '" + l.name + "')");
  auto q = std::make_shared<QuantWeight>();
  q->precision = p;
  q->name = l.weight;
  q->N = l.N;
  q->K = l.K;
  if (p == Precision::kInt8) {
    std::vector<int8_t> rows(N * K);
    std::vector<float> scale(N);
    if (!Qs8QuantizePerChannel(w, N, K, K, rows.data(), scale.data()))
      Fail(kExitConvert, "weight '" + l.weight + "': int8 quantization failed");
    q->data.assign(Qs8PackedBytes(N, K), 0);
    Qs8PackN16K4(rows.data(), N, K, q->data.data());
    q->scales.resize(N * sizeof(float));
    std::memcpy(q->scales.data(), scale.data(), N * sizeof(float));
  } else if (p == Precision::kNvfp4) {
    std::vector<uint8_t> codes(N * ((K + 1) / 2)), scales(N * ((K + 15) / 16));
    float g_dec = 1.f;
    if (!Nvfp4Quantize(w, N, K, K, codes.data(), scales.data(), &g_dec))
      Fail(kExitConvert, "weight '" + l.weight + "': NVFP4 quantization failed");
    q->data.assign(Nvfp4PackedCodeBytes(N, K), 0);
    q->scales.assign(Nvfp4PackedScaleBytes(N, K), 0);
    Nvfp4PackN16K64(codes.data(), scales.data(), N, K, q->data.data(), q->scales.data());
    q->tensor_scale = g_dec;
  } else {
    Fail(kExitConvert, "internal: QuantizeWeight at fp32");
  }
  return q;
}

double AllocateMixed(std::vector<LinearLayer>* layers, const QuantOptions& o) {
  std::vector<LinearLayer*> mix;
  for (LinearLayer& l : *layers)
    if (l.candidate && !l.overridden && l.err_nvfp4 >= 0) mix.push_back(&l);
  double elems = 0, bits = 0;
  for (LinearLayer* l : mix) {
    l->precision = Precision::kInt8;
    l->reason = "mixed: int8";
    elems += double(l->N) * double(l->K);
    bits += StoredBits(Precision::kInt8, l->N, l->K) * double(l->N) * double(l->K);
  }
  if (mix.empty()) return 0;
  // Stable: equal errors keep graph order.
  std::stable_sort(mix.begin(), mix.end(),
                   [](const LinearLayer* a, const LinearLayer* b) { return a->err_nvfp4 < b->err_nvfp4; });
  const bool budget = o.target_bits > 0;
  for (LinearLayer* l : mix) {
    if (budget && bits / elems <= o.target_bits) break;
    if (o.max_error >= 0 && l->err_nvfp4 > o.max_error) break;
    const double e = double(l->N) * double(l->K);
    bits += (StoredBits(Precision::kNvfp4, l->N, l->K) - StoredBits(Precision::kInt8, l->N, l->K)) * e;
    l->precision = Precision::kNvfp4;
    l->reason = "mixed: nvfp4";
  }
  return bits / elems;
}

}  // namespace conv
}  // namespace edge
