// The rotation of interleaved-pair RoPE (diffusers' apply_rotary_emb with
// use_real_unbind_dim=-1, used by Flux, LTX-Video and CogVideoX):
//   x_real, x_imag = x.reshape(..., D/2, 2).unbind(-1)
//   rot = stack([-x_imag, x_real], -1).flatten(-2)
// exported as Reshape -> Split/Slice/Gather on the pair axis -> (Squeeze) ->
// Neg on the odd half -> (Unsqueeze) -> Concat on the pair axis -> Reshape.
#include "converter/passes.h"

namespace edge {
namespace conv {
namespace {

// Skips one edge Reshape producing v (recorded in nodes).
int ThroughReshape(Graph& g, int v, std::set<int>* nodes) {
  int p = ProducerEdge(g, v, fb::OpType::Reshape);
  if (p < 0) return v;
  nodes->insert(p);
  return g.nodes[p].in[0];
}

// v = y[..., which] (with or without the unit pair axis) where y is an edge
// Reshape of some x that splits only x's last axis, into [..., 2] pairs.
// Returns that x, or -1; sets *y and *which.
int PairSourceImpl(Graph& g, int v, int* y_out, int* which, std::set<int>* nodes) {
  std::set<int> seen;
  int u = ThroughReshape(g, v, &seen);
  int p = g.Producer(u);
  if (p < 0 || g.nodes[p].edge || !HasArity(g.nodes[p], 1)) return -1;
  const Node& n = g.nodes[p];
  int y = n.in[0];
  const Shape ys = g.shape(y);
  int ry = static_cast<int>(ys.size());
  if (ry < 2 || ys.back() != 2) return -1;
  Shape half = ys, flat(ys.begin(), ys.end() - 1);
  half.back() = 1;
  if ((g.shape(v) != flat && g.shape(v) != half) || (g.shape(u) != flat && g.shape(u) != half)) return -1;
  int w = -1;
  if (n.op == "Slice" && g.shape(u) == half) {
    auto st = n.attrs.find("_starts");
    if (st == n.attrs.end() || st->second.ints.size() != ys.size()) return -1;
    for (int a = 0; a + 1 < ry; ++a)
      if (st->second.ints[a] != 0) return -1;
    w = static_cast<int>(st->second.ints.back());
  } else if (n.op == "Split" && n.out.size() == 2 && HasArity(n, 1, 2) && g.shape(u) == half &&
             NormalizeAxis(n.AttrInt("axis", 0), ry) == ry - 1) {
    w = n.out[0] == u ? 0 : 1;
  } else if (n.op == "Gather" && HasArity(n, 2) && g.shape(u) == flat &&
             NormalizeAxis(n.AttrInt("axis", 0), ry) == ry - 1) {
    const Tensor* idx = g.Const(n.in[1]);
    if (!idx || idx->is_float() || idx->numel() != 1 || idx->i.size() != 1) return -1;
    w = static_cast<int>(idx->i[0] < 0 ? idx->i[0] + 2 : idx->i[0]);
  }
  if (w != 0 && w != 1) return -1;
  seen.insert(p);
  int x = ThroughReshape(g, y, &seen);
  const Shape xs = g.shape(x);
  if (x == y || xs.empty() || NumElements(xs) != NumElements(ys) || xs.size() > ys.size()) return -1;
  for (size_t a = 0; a + 1 < xs.size(); ++a)
    if (xs[a] != ys[a]) return -1;
  nodes->insert(seen.begin(), seen.end());
  *y_out = y;
  *which = w;
  return x;
}

// Which element (0 or 1) of the pairs of x the value v is, -1 if none:
// v = x.view(..., D/2, 2)[..., which] (with or without the unit pair axis).
int PairElement(Graph& g, int v, int x, std::set<int>* nodes) {
  const Shape xs = g.shape(x);
  if (xs.empty() || xs.back() % 2) return -1;
  Shape pairs = xs;
  pairs.back() /= 2;
  pairs.push_back(2);
  std::set<int> seen;
  int y = -1, which = -1;
  if (PairSourceImpl(g, v, &y, &which, &seen) != x || g.shape(y) != pairs) return -1;
  nodes->insert(seen.begin(), seen.end());
  return which;
}

}  // namespace

int PairSource(Graph& g, int v, int* y, int* which, std::set<int>* nodes) {
  return PairSourceImpl(g, v, y, which, nodes);
}

bool IsRotatePairs(Graph& g, int rot, int x, std::set<int>* nodes) {
  const Shape xs = g.shape(x);
  int r = static_cast<int>(xs.size());
  if (r < 1 || g.shape(rot) != xs) return false;
  std::set<int> found;
  int c = ThroughReshape(g, rot, &found);
  int cat = ProducerOp(g, c, "Concat");
  if (cat < 0 || g.rank(c) != r + 1 || g.nodes[cat].in.size() != 2 ||
      NormalizeAxis(g.nodes[cat].AttrInt("axis", 0), r + 1) != r)
    return false;
  found.insert(cat);
  const Node cn = g.nodes[cat];
  int neg = ProducerOp(g, ThroughReshape(g, cn.in[0], &found), "Neg");
  if (neg < 0) return false;
  found.insert(neg);
  if (PairElement(g, g.nodes[neg].in[0], x, &found) != 1 || PairElement(g, cn.in[1], x, &found) != 0) return false;
  nodes->insert(found.begin(), found.end());
  return true;
}

}  // namespace conv
}  // namespace edge
