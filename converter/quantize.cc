#include "converter/quantize.h"

#include <fnmatch.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "ops/quant_format.h"

namespace edge {
namespace conv {

namespace {

// Precision values name the rows of the weight-format table.
const QuantFormatTraits& FormatOf(Precision p) { return QuantFormatOf(static_cast<QuantFormat>(p)); }
static_assert(static_cast<int>(Precision::kInt8) == static_cast<int>(QuantFormat::kQs8) &&
                  static_cast<int>(Precision::kNvfp4) == static_cast<int>(QuantFormat::kNvfp4) &&
                  static_cast<int>(Precision::kFp32) == static_cast<int>(QuantFormat::kF32),
              "Precision and QuantFormat share their values");

}  // namespace

const char* PrecisionName(Precision p) { return FormatOf(p).name; }

bool ParsePrecision(const std::string& s, Precision* p) {
  for (int i = 0; i < kQuantFormatCount; ++i) {
    if (s == QuantFormatOf(static_cast<QuantFormat>(i)).name) {
      *p = static_cast<Precision>(i);
      return true;
    }
  }
  return false;
}

double StoredBits(Precision p, int64_t N, int64_t K) {
  const double elems = static_cast<double>(N) * static_cast<double>(K);
  if (elems <= 0) return 0;
  const QuantFormatTraits& f = FormatOf(p);
  if (f.scale_kind == QuantScaleKind::kNone) return 32.0;  // FP32: the row-major count
  const size_t n = static_cast<size_t>(N), k = static_cast<size_t>(K);
  return 8.0 * static_cast<double>(QuantPackedBytes(f, n, k) + QuantPackedScaleBytes(f, n, k)) / elems;
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

namespace {

// w[N, K] must be finite to be quantized; else the error names the weight,
// the element and the op (`op`: "Linear 'fc1'").
void RequireFinite(const float* w, size_t N, size_t K, const std::string& weight, const std::string& op) {
  for (size_t n = 0; n < N; ++n)
    for (size_t k = 0; k < K; ++k)
      if (!std::isfinite(w[n * K + k]))
        Fail(kExitConvert, "weight '" + weight + "' has a NaN/Inf at (" + std::to_string(n) + ", " +
                               std::to_string(k) + ") (" + op + ")");
}

// w[N, K] quantized row-major by the format row of p: data and scales of the
// row-major sizes, and the tensor scale.
void QuantizeRowMajor(const float* w, size_t N, size_t K, Precision p, bool search, const std::string& weight,
                      std::vector<uint8_t>* rows, std::vector<uint8_t>* scales, float* tensor_scale) {
  const QuantFormatTraits& f = FormatOf(p);
  rows->assign(QuantRowMajorBytes(f, N, K), 0);
  scales->assign(QuantRowMajorScaleBytes(f, N, K), 0);
  *tensor_scale = 1.f;
  if (!(search ? f.quantize_offline : f.quantize)(w, N, K, rows->data(), scales->data(), tensor_scale))
    Fail(kExitConvert, "weight '" + weight + "': " + (p == Precision::kInt8 ? "int8" : "NVFP4") +
                           " quantization failed");
}

}  // namespace

QuantWeightPtr PackQuantWeight(const LinearLayer& l, Precision p, const std::vector<uint8_t>& rows,
                               const std::vector<uint8_t>& scales, float tensor_scale) {
  if (p != Precision::kInt8 && p != Precision::kNvfp4) Fail(kExitConvert, "internal: a quantized weight at fp32");
  const size_t N = static_cast<size_t>(l.N), K = static_cast<size_t>(l.K);
  const QuantFormatTraits& f = FormatOf(p);
  if (rows.size() != QuantRowMajorBytes(f, N, K) || scales.size() != QuantRowMajorScaleBytes(f, N, K))
    Fail(kExitConvert, "internal: row-major sizes of '" + l.weight + "'");
  auto q = std::make_shared<QuantWeight>();
  q->precision = p;
  q->name = l.weight;
  q->N = l.N;
  q->K = l.K;
  q->shape = {l.N, l.K};
  q->tensor_scale = tensor_scale;
  // Pack into the layout the kernels read in place.
  q->data.assign(QuantPackedBytes(f, N, K), 0);
  q->scales.assign(QuantPackedScaleBytes(f, N, K), 0);
  f.pack(rows.data(), scales.data(), N, K, q->data.data(), q->scales.data());
  return q;
}

void RequireFiniteWeight(const Graph& g, const LinearLayer& l) {
  RequireFinite(g.Const(l.weight_value)->f.data(), static_cast<size_t>(l.N), static_cast<size_t>(l.K), l.weight,
                "Linear '" + l.name + "'");
}

QuantWeightPtr QuantizeWeight(const Graph& g, const LinearLayer& l, Precision p, bool search) {
  const Tensor& t = *g.Const(l.weight_value);
  const size_t N = static_cast<size_t>(l.N), K = static_cast<size_t>(l.K);
  RequireFiniteWeight(g, l);
  if (p != Precision::kInt8 && p != Precision::kNvfp4) Fail(kExitConvert, "internal: QuantizeWeight at fp32");
  std::vector<uint8_t> rows, scales;
  float tensor_scale = 1.f;
  QuantizeRowMajor(t.f.data(), N, K, p, search, l.weight, &rows, &scales, &tensor_scale);
  return PackQuantWeight(l, p, rows, scales, tensor_scale);
}

std::map<int, QuantWeightPtr> QuantizeConvWeights(const Graph& g, Precision p) {
  std::map<int, QuantWeightPtr> out;
  if (p == Precision::kFp32) return out;
  if (p != Precision::kInt8) Fail(kExitConvert, "internal: Conv2d weights are fp32 or int8");
  std::map<int, QuantWeightPtr> by_value;  // a weight shared by several convs is stored once
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    const Node& n = g.nodes[k];
    if (n.dead || !n.edge || n.etype != fb::OpType::Conv2d || n.in.size() < 2) continue;
    const Tensor* w = g.Const(n.in[1]);
    if (w == nullptr || !w->is_float() || w->shape.size() != 4 || w->numel() == 0) continue;
    QuantWeightPtr& q = by_value[n.in[1]];
    if (!q) {
      const std::string& name = g.values[n.in[1]].name;
      const size_t N = static_cast<size_t>(w->shape[0]), K = static_cast<size_t>(w->numel()) / N;
      RequireFinite(w->f.data(), N, K, name, "Conv2d '" + n.name + "'");
      auto c = std::make_shared<QuantWeight>();
      c->precision = p;
      c->name = name;
      c->N = static_cast<int64_t>(N);
      c->K = static_cast<int64_t>(K);
      c->shape = w->shape;
      c->packed = false;
      QuantizeRowMajor(w->f.data(), N, K, p, false, name, &c->data, &c->scales, &c->tensor_scale);
      q = c;
    }
    out[static_cast<int>(k)] = q;
  }
  return out;
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
  // Sensitivity per bit saved: a small layer that hurts a little is not
  // worth a large one that hurts as much.
  auto cost = [&](const LinearLayer* l) {
    if (!o.rank_by_output || l->out_mse < 0) return l->err_nvfp4;
    const double saved = (StoredBits(Precision::kInt8, l->N, l->K) - StoredBits(Precision::kNvfp4, l->N, l->K)) *
                         double(l->N) * double(l->K);
    return saved > 0 ? l->out_mse / saved : l->out_mse;
  };
  // Stable: equal costs keep graph order.
  std::stable_sort(mix.begin(), mix.end(), [&](const LinearLayer* a, const LinearLayer* b) { return cost(a) < cost(b); });
  const bool budget = o.target_bits > 0;
  for (LinearLayer* l : mix) {
    if (budget && bits / elems <= o.target_bits) break;
    if (o.max_error >= 0 && l->err_nvfp4 > o.max_error) continue;
    const double e = double(l->N) * double(l->K);
    bits += (StoredBits(Precision::kNvfp4, l->N, l->K) - StoredBits(Precision::kInt8, l->N, l->K)) * e;
    l->precision = Precision::kNvfp4;
    l->reason = "mixed: nvfp4";
  }
  return bits / elems;
}

}  // namespace conv
}  // namespace edge
