#include "converter/emit.h"

#include <cstring>

#include "ops/quant_format.h"

namespace edge {
namespace conv {
namespace {

fb::DType ToDType(int t, const std::string& name) {
  switch (t) {
    case kFloat: case kFloat16: case kDouble: case kBFloat16: return fb::DType::F32;
    case kInt64: return fb::DType::I64;
    case kInt32: return fb::DType::I32;
    case kInt8: return fb::DType::I8;
    case kUint8: case kBool: return fb::DType::U8;
    default: Fail(kExitConvert, "tensor '" + name + "' has element type " + ElemTypeName(t) + ", which edge files cannot hold");
  }
}

// Per value: a float constant [N, K] read only as the weight of Linear ops
// (the one consumer that reads a packed layout; see the validator's rule).
std::vector<char> LinearOnlyWeights(const Graph& g) {
  std::vector<char> weight(g.values.size(), 0), other(g.values.size(), 0);
  for (const Node& n : g.nodes) {
    if (n.dead) continue;
    for (size_t i = 0; i < n.in.size(); ++i) {
      const int v = n.in[i];
      if (v < 0) continue;
      (n.etype == fb::OpType::Linear && i == 1 ? weight : other)[static_cast<size_t>(v)] = 1;
    }
  }
  for (int v : g.outputs) other[static_cast<size_t>(v)] = 1;
  for (size_t v = 0; v < weight.size(); ++v) {
    const Value& val = g.values[v];
    weight[v] = weight[v] && !other[v] && val.c && val.c->is_float() && val.c->shape.size() == 2;
  }
  return weight;
}

}  // namespace

EmitResult Emit(Graph& g, const std::vector<Region>& regions, const PipelineFlags& pipe,
                const std::string& model_name, ModelWriter* w,
                const std::map<int, QuantWeightPtr>* quant, const EmitOptions& options) {
  EmitResult r;
  const std::vector<char> linear_weight = LinearOnlyWeights(g);
  auto packed = [&](int v) { return options.fp32_packed && linear_weight[static_cast<size_t>(v)] != 0; };
  std::map<const QuantWeight*, int> quant_tensor;
  auto quantized = [&](const QuantWeight& q) -> int {
    auto it = quant_tensor.find(&q);
    if (it != quant_tensor.end()) return it->second;
    int id;
    if (q.precision == Precision::kInt8) {
      std::vector<float> scales(static_cast<size_t>(q.N));
      std::memcpy(scales.data(), q.scales.data(), scales.size() * sizeof(float));
      id = w->AddInt8PerChannel(q.name, q.shape, q.data.data(), q.data.size(), scales,
                                q.packed ? fb::WeightLayout::PackedInt8N16K4 : fb::WeightLayout::RowMajor);
    } else {
      id = w->AddNvfp4(q.name, q.shape, q.data.data(), q.data.size(), q.scales.data(), q.scales.size(),
                       q.tensor_scale,
                       q.packed ? fb::WeightLayout::PackedNvfp4N16K64 : fb::WeightLayout::RowMajor);
    }
    r.parameters += q.N * q.K;
    r.constant_bytes += static_cast<int64_t>(q.bytes());
    quant_tensor[&q] = id;
    return id;
  };
  auto tensor = [&](int v) -> int {
    if (v < 0) return -1;
    auto it = r.tensor_of.find(v);
    if (it != r.tensor_of.end()) return it->second;
    const Value& val = g.values[v];
    fb::DType dt = ToDType(val.dtype, val.name);
    int id;
    if (val.c) {
      // Identical constants (e.g. a RoPE table used by every block) are stored once.
      for (const auto& kv : r.tensor_of) {
        const Value& o = g.values[kv.first];
        if (o.c && o.c->dtype == val.c->dtype && o.c->shape == val.c->shape && o.c->f == val.c->f &&
            o.c->i == val.c->i && packed(kv.first) == packed(v)) {
          r.tensor_of[v] = kv.second;
          return kv.second;
        }
      }
      const Tensor& t = *val.c;
      if (dt == fb::DType::F32 && packed(v)) {
        id = w->AddConstantF32Packed(val.name, t.shape, t.f);
        r.parameters += t.numel();
        r.constant_bytes += static_cast<int64_t>(QuantPackedBytes(
            QuantFormatOf(QuantFormat::kF32), static_cast<size_t>(t.shape[0]), static_cast<size_t>(t.shape[1])));
      } else if (dt == fb::DType::F32) {
        id = w->AddConstantF32(val.name, t.shape, t.f);
        r.parameters += t.numel();
        r.constant_bytes += t.numel() * 4;
      } else if (dt == fb::DType::I64) {
        id = w->AddConstant(val.name, t.shape, dt, t.i.data(), t.i.size() * sizeof(int64_t));
        r.constant_bytes += t.numel() * 8;
      } else {
        // Narrow integer types.
        std::vector<uint8_t> bytes;
        size_t es = dt == fb::DType::I32 ? 4 : 1;
        bytes.resize(t.i.size() * es);
        for (size_t k = 0; k < t.i.size(); ++k) {
          if (es == 4) {
            int32_t x = static_cast<int32_t>(t.i[k]);
            std::memcpy(&bytes[k * 4], &x, 4);
          } else {
            bytes[k] = static_cast<uint8_t>(t.i[k]);
          }
        }
        id = w->AddConstant(val.name, t.shape, dt, bytes.data(), bytes.size());
        r.constant_bytes += bytes.size();
      }
    } else {
      id = w->AddActivation(val.name, val.shape, dt);
    }
    r.tensor_of[v] = id;
    r.tensor_values.push_back(v);
    return id;
  };
  std::vector<int> ins, outs;
  for (int v : g.inputs) ins.push_back(tensor(v));
  std::vector<int> op_index(g.nodes.size(), -1);
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    const Node& n = g.nodes[k];
    if (n.dead) continue;
    if (!n.edge) Fail(kExitConvert, "internal: node '" + n.name + "' (" + n.op + ") was not lowered");
    std::vector<int> in, out;
    const QuantWeight* qw = nullptr;
    if (quant != nullptr) {
      auto it = quant->find(static_cast<int>(k));
      if (it != quant->end()) qw = it->second.get();
    }
    for (size_t i = 0; i < n.in.size(); ++i) in.push_back(qw != nullptr && i == 1 ? quantized(*qw) : tensor(n.in[i]));
    for (int v : n.out) out.push_back(tensor(v));
    op_index[k] = w->AddOp(n.etype, in, out, n.ea, n.name);
  }
  r.op_of_node = op_index;
  for (int v : g.outputs) outs.push_back(tensor(v));
  w->SetInputs(ins);
  w->SetOutputs(outs);
  for (const Region& reg : regions)
    w->AddCacheRegion(reg.name, op_index[reg.first_op], op_index[reg.last_op], tensor(reg.input), tensor(reg.output));
  if (pipe.any) {
    PipelineInfo p = pipe.info;
    for (const auto& kv : pipe.roles) {
      int id = -1;
      for (int v : g.inputs)
        if (g.values[v].name == kv.first) id = r.tensor_of[v];
      if (id < 0) Fail(kExitUsage, "--roles names '" + kv.first + "', which is not a model input");
      if (kv.second == "latent") p.latent_input = id;
      else if (kv.second == "timestep") p.timestep_input = id;
      else if (kv.second == "condition") p.condition_input = id;
      else Fail(kExitUsage, "--roles: unknown role '" + kv.second + "' (latent, timestep, condition)");
    }
    if (!g.outputs.empty()) p.output = r.tensor_of[g.outputs[0]];
    if (p.latent_shape.empty() && p.latent_input >= 0) {
      // One sample's latent: the latent input without its batch dim.
      for (int v : g.inputs)
        if (r.tensor_of[v] == p.latent_input) p.latent_shape.assign(g.values[v].shape.begin() + 1, g.values[v].shape.end());
    }
    if (p.latent_shape.size() != 3 && p.latent_shape.size() != 4)
      Fail(kExitUsage, "pipeline metadata needs the latent shape: give --latent CxHxW or FxCxHxW (or a --roles latent "
                       "input of rank 4 or 5)");
    w->SetPipeline(p);
  }
  w->SetName(model_name);
  w->SetProducer("edge-convert");
  return r;
}

}  // namespace conv
}  // namespace edge
