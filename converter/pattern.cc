// Helpers shared by the graph passes (see passes.h).
#include <algorithm>

#include "converter/passes.h"

namespace edge {
namespace conv {

int In(const Node& n, size_t k) { return k < n.in.size() ? n.in[k] : -1; }
int Out(const Node& n, size_t k) { return k < n.out.size() ? n.out[k] : -1; }

bool HasArity(const Node& n, size_t ins, size_t outs) {
  for (size_t k = 0; k < ins; ++k)
    if (In(n, k) < 0) return false;
  for (size_t k = 0; k < outs; ++k)
    if (Out(n, k) < 0) return false;
  return true;
}

size_t MinInputs(const Node& n) {
  if (n.edge) {
    switch (n.etype) {
      case fb::OpType::RoPE: case fb::OpType::Modulate: case fb::OpType::GatedResidual:
      case fb::OpType::Attention: return 3;
      case fb::OpType::Linear: case fb::OpType::Add: case fb::OpType::Sub: case fb::OpType::Mul:
      case fb::OpType::Div: case fb::OpType::MatMul: case fb::OpType::Embedding: return 2;
      default: return 1;
    }
  }
  static const char* binary[] = {"Add", "Sub", "Mul", "Div", "Pow", "MatMul", "Gemm", "Gather"};
  for (const char* b : binary)
    if (n.op == b) return 2;
  return 1;
}

int SoleUser(Graph& g, int v) {
  if (!g.Valid(v) || g.values[v].graph_output) return -1;
  const std::vector<int>& u = g.Users(v);
  return u.size() == 1 ? u[0] : -1;
}

namespace {
// Producer p of v if live and of full arity, else -1.
int CheckedProducer(Graph& g, int v) {
  int p = g.Producer(v);
  if (p < 0 || p >= static_cast<int>(g.nodes.size())) return -1;
  const Node& n = g.nodes[p];
  return !n.dead && HasArity(n, MinInputs(n)) ? p : -1;
}
}  // namespace

int ProducerOp(Graph& g, int v, const char* op) {
  int p = CheckedProducer(g, v);
  return p >= 0 && !g.nodes[p].edge && g.nodes[p].op == op ? p : -1;
}

int ProducerEdge(Graph& g, int v, fb::OpType t) {
  int p = CheckedProducer(g, v);
  return p >= 0 && g.nodes[p].edge && g.nodes[p].etype == t ? p : -1;
}

bool OnlyUsedBy(Graph& g, int v, const std::set<int>& nodes) {
  if (!g.Valid(v) || g.values[v].graph_output) return false;
  for (int u : g.Users(v))
    if (!nodes.count(u)) return false;
  return true;
}

bool ScalarConst(Graph& g, int v, double* val) { return g.ConstScalar(v, val); }

int OtherInput(const Node& n, int v) {
  if (n.in.size() != 2) return -1;
  if (n.in[0] == v) return n.in[1];
  if (n.in[1] == v) return n.in[0];
  return -1;
}

int NewValue(Graph& g, const std::string& base, int dtype, Shape shape) {
  int id = g.AddValue(g.FreshName(base));
  g.values[id].dtype = dtype;
  g.values[id].shape = std::move(shape);
  g.values[id].known = true;
  return id;
}

int NewConstF32(Graph& g, const std::string& base, const Shape& shape, std::vector<float> data) {
  auto t = std::make_shared<Tensor>();
  t->dtype = kFloat;
  t->shape = shape;
  t->f = std::move(data);
  return g.AddConstValue(g.FreshName(base), t);
}

int AddEdge(Graph& g, fb::OpType t, const std::string& name, const std::vector<int>& in,
            const std::vector<int>& out, const OpAttrs& a, int before) {
  Node n;
  n.edge = true;
  n.etype = t;
  n.op = EdgeOpName(t);
  n.name = name;
  n.in = in;
  n.out = out;
  n.ea = a;
  return g.AddNode(std::move(n), before);
}

int ReplaceWithEdge(Graph& g, const std::set<int>& pattern, int sink, fb::OpType t,
                    const std::vector<int>& in, const OpAttrs& a) {
  Node n;
  n.edge = true;
  n.etype = t;
  n.op = EdgeOpName(t);
  n.name = g.nodes[sink].name;
  n.in = in;
  n.out = {Out(g.nodes[sink], 0)};
  n.ea = a;
  n.pos = g.nodes[sink].pos;
  for (int k : pattern) g.nodes[k].dead = true;
  g.nodes.push_back(std::move(n));
  g.Touch();
  return static_cast<int>(g.nodes.size()) - 1;
}

int ReshapeTo(Graph& g, int v, const Shape& shape, int before, const std::string& name) {
  if (g.shape(v) == shape) return v;
  // Reshape of a Reshape: read the original.
  int p = ProducerEdge(g, v, fb::OpType::Reshape);
  if (p >= 0) v = g.nodes[p].in[0];
  if (g.shape(v) == shape) return v;
  int out = NewValue(g, g.values[v].name + "/reshape", g.values[v].dtype, shape);
  AddEdge(g, fb::OpType::Reshape, name, {v}, {out}, OpAttrs(), before);
  return out;
}

bool IsLastAxisReduceMean(Graph& g, int node) {
  if (node < 0 || node >= static_cast<int>(g.nodes.size())) return false;
  const Node& n = g.nodes[node];
  if (n.edge || n.dead || n.op != "ReduceMean" || !HasArity(n, 1) || n.AttrInt("keepdims", 1) == 0) return false;
  auto it = n.attrs.find("_axes");
  if (it == n.attrs.end()) return false;
  int r = g.rank(n.in[0]);
  return it->second.ints.size() == 1 && it->second.ints[0] == r - 1;
}

int NormalizeAxis(int64_t axis, int rank) {
  if (axis < -rank || axis >= rank) Fail(kExitConvert, "axis out of range");
  return static_cast<int>(axis < 0 ? axis + rank : axis);
}

}  // namespace conv
}  // namespace edge
