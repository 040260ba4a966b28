// Joint attention over concatenated streams (SD3, and any model that
// concatenates per-stream q/k/v after splitting heads): the Concat sits on the
// token axis of [B, H, N_i, dh] views of [B, N_i, C] projections, so the
// attention fuser would see no tokens-major source and fall back to BHSD with
// copies. A Concat of identical Transposes is a Transpose of the Concat (on
// the permuted axis), and a Concat of Reshapes that only regroup the axes
// after the concat axis is a Reshape of the Concat; pushing the Concat up
// through both leaves it on [B, N_i, C] and the views above it intact.
#include "converter/passes.h"

namespace edge {
namespace conv {
namespace {

// The producers of every input of concat node k, if all are edge ops of type
// t with one user (this Concat); else empty.
std::vector<int> SameViews(Graph& g, const Node& c, fb::OpType t) {
  std::vector<int> ps;
  for (int v : c.in) {
    int p = ProducerEdge(g, v, t);
    if (p < 0 || SoleUser(g, v) < 0) return {};
    ps.push_back(p);
  }
  return ps;
}

bool PushOnce(Graph& g, int k) {
  const Node c = g.nodes[k];
  if (c.edge || c.op != "Concat" || c.in.size() < 2 || !HasArity(c, c.in.size())) return false;
  int r = g.rank(c.out[0]);
  if (r < 1) return false;
  int axis = NormalizeAxis(c.AttrInt("axis", 0), r);
  std::vector<int> ts = SameViews(g, c, fb::OpType::Transpose);
  if (!ts.empty()) {
    const std::vector<int> perm = g.nodes[ts[0]].ea.perm;
    if (static_cast<int>(perm.size()) != r) return false;
    for (int p : perm)
      if (p < 0 || p >= r) return false;
    for (int p : ts)
      if (g.nodes[p].ea.perm != perm) return false;
    std::vector<int> ins;
    for (int p : ts) ins.push_back(g.nodes[p].in[0]);
    int src_axis = perm[axis];
    Shape s = g.shape(ins[0]);
    s[src_axis] = 0;
    for (int v : ins) s[src_axis] += g.shape(v)[src_axis];
    int cat = NewValue(g, g.values[c.out[0]].name + "/untransposed", g.values[c.out[0]].dtype, s);
    Node n = c;
    n.in = ins;
    n.out = {cat};
    n.attrs["axis"].kind = Attr::kInt;
    n.attrs["axis"].i = src_axis;
    n.name = c.name + "/untransposed";
    g.nodes[k].dead = true;
    g.AddNode(n, k);
    OpAttrs a;
    a.perm = perm;
    AddEdge(g, fb::OpType::Transpose, c.name, {cat}, {c.out[0]}, a, k);
    g.Touch();
    return true;
  }
  std::vector<int> rs = SameViews(g, c, fb::OpType::Reshape);
  if (rs.empty()) return false;
  std::vector<int> ins;
  Shape tail;  // the source's axes after the concat axis, equal for every input
  for (size_t i = 0; i < rs.size(); ++i) {
    int src = g.nodes[rs[i]].in[0];
    const Shape a = g.shape(src), b = g.shape(c.in[i]);
    if (static_cast<int>(a.size()) <= axis || static_cast<int>(b.size()) != r) return false;
    for (int d = 0; d <= axis; ++d)
      if (a[d] != b[d]) return false;
    Shape t(a.begin() + axis + 1, a.end());
    if (i == 0) tail = t;
    else if (t != tail) return false;
    ins.push_back(src);
  }
  Shape s = g.shape(ins[0]);
  s[axis] = 0;
  for (int v : ins) s[axis] += g.shape(v)[axis];
  int cat = NewValue(g, g.values[c.out[0]].name + "/unviewed", g.values[c.out[0]].dtype, s);
  Node n = c;
  n.in = ins;
  n.out = {cat};
  n.attrs["axis"].kind = Attr::kInt;  // normalized: the sources may have another rank
  n.attrs["axis"].i = axis;
  n.name = c.name + "/unviewed";
  g.nodes[k].dead = true;
  g.AddNode(n, k);
  AddEdge(g, fb::OpType::Reshape, c.name, {cat}, {c.out[0]}, OpAttrs(), k);
  g.Touch();
  return true;
}

}  // namespace

void PushConcatsThroughViews(Graph& g) {
  // A pushed Concat is a new node at the end: keep going until none moves
  // (each push removes one view per input, so this ends).
  for (bool changed = true; changed;) {
    changed = false;
    size_t count = g.nodes.size();
    for (size_t k = 0; k < count; ++k)
      if (!g.nodes[k].dead && PushOnce(g, static_cast<int>(k))) changed = true;
    g.RemoveDeadCode();
    g.Compact();
  }
}

}  // namespace conv
}  // namespace edge
