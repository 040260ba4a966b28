// Helpers shared by the graph passes (see passes.h).
#include <algorithm>

#include "converter/passes.h"

namespace edge {
namespace conv {

int ProducerOp(Graph& g, int v, const char* op) {
  int p = g.Producer(v);
  if (p < 0) return -1;
  const Node& n = g.nodes[p];
  return (!n.dead && !n.edge && n.op == op) ? p : -1;
}

int ProducerEdge(Graph& g, int v, fb::OpType t) {
  int p = g.Producer(v);
  if (p < 0) return -1;
  const Node& n = g.nodes[p];
  return (!n.dead && n.edge && n.etype == t) ? p : -1;
}

bool OnlyUsedBy(Graph& g, int v, const std::set<int>& nodes) {
  if (g.values[v].graph_output) return false;
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

int NewValue(Graph& g, const std::string& base, int dtype, const Shape& shape) {
  int id = g.AddValue(g.FreshName(base));
  g.values[id].dtype = dtype;
  g.values[id].shape = shape;
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
  n.out = {g.nodes[sink].out[0]};
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
  int p = g.Producer(v);
  if (p >= 0 && g.nodes[p].edge && g.nodes[p].etype == fb::OpType::Reshape) v = g.nodes[p].in[0];
  if (g.shape(v) == shape) return v;
  int out = NewValue(g, g.values[v].name + "/reshape", g.values[v].dtype, shape);
  AddEdge(g, fb::OpType::Reshape, name, {v}, {out}, OpAttrs(), before);
  return out;
}

bool IsLastAxisReduceMean(Graph& g, int node) {
  if (node < 0) return false;
  const Node& n = g.nodes[node];
  if (n.edge || n.op != "ReduceMean" || n.AttrInt("keepdims", 1) == 0) return false;
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
