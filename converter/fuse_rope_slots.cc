// RoPE written into even/odd slots (diffusers' Wan):
//   x1, x2 = x.unflatten(-1, (-1, 2)).unbind(-1)
//   out[..., 0::2] = x1 * cos - x2 * sin
//   out[..., 1::2] = x1 * sin + x2 * cos
// After RewriteOps turned the two ScatterNDs into one Concat of the two
// results on a unit axis (interleaving them), this is an interleaved RoPE of
// x with per-slot tables: C[2i] = cos_even[i], C[2i+1] = cos_odd[i], and the
// same for sin.
#include "converter/passes.h"

namespace edge {
namespace conv {
namespace {

// Skips edge Reshapes and same-shape Expand/Identity (torch's type_as and
// broadcasts that change nothing) above v.
int SkipViews(Graph& g, int v, std::set<int>* nodes) {
  for (int depth = 0; depth < 4; ++depth) {
    int p = g.Producer(v);
    if (p < 0 || !HasArity(g.nodes[p], 1)) return v;
    const Node& n = g.nodes[p];
    bool same = g.shape(n.in[0]) == g.shape(v);
    bool view = (n.edge && n.etype == fb::OpType::Reshape) ||
                (!n.edge && (n.op == "Identity" || (n.op == "Expand" && same)));
    if (!view || NumElements(g.shape(n.in[0])) != NumElements(g.shape(v))) return v;
    nodes->insert(p);
    v = n.in[0];
  }
  return v;
}

// One product act * table of a Mul: the activation is a pair element of x.
struct Term {
  int x = -1, which = -1, table = -1;
};

bool TermOf(Graph& g, int v, Term* t, std::set<int>* nodes) {
  int m = ProducerOp(g, v, "Mul");
  if (m < 0) return false;
  for (int s = 0; s < 2; ++s) {
    int c = g.nodes[m].in[s], act = g.nodes[m].in[1 - s];
    const Tensor* ct = g.Const(c);
    if (!ct || !ct->is_float() || g.IsConst(act)) continue;
    std::set<int> found = {m};
    int y = -1;
    int x = PairSource(g, act, &y, &t->which, &found);
    if (x < 0) continue;
    t->x = x;
    t->table = c;
    nodes->insert(found.begin(), found.end());
    return true;
  }
  return false;
}

// Table value for token n, pair i of a table broadcast over P = [B, N, (H,) d2].
bool TableAt(const Tensor& t, const Shape& p, int64_t n, int64_t i, float* out) {
  Shape s = t.shape;
  if (s.size() > p.size()) return false;
  while (s.size() < p.size()) s.insert(s.begin(), 1);
  size_t r = p.size();
  if (s[0] != 1 || (s[1] != 1 && s[1] != p[1]) || s[r - 1] != p[r - 1]) return false;
  for (size_t a = 2; a + 1 < r; ++a)
    if (s[a] != 1) return false;
  int64_t k = (s[1] == 1 ? 0 : n) * p[r - 1] + i;
  if (k < 0 || k >= static_cast<int64_t>(t.f.size())) return false;
  *out = t.f[k];
  return true;
}

}  // namespace

void FuseRopeSlots(Graph& g, int k) {
  const Node cat = g.nodes[k];  // a copy: values are added below
  if (!cat.edge || cat.etype != fb::OpType::Concat || cat.in.size() != 2 || !HasArity(cat, 2)) return;
  const Shape cs = g.shape(cat.in[0]);
  int axis = cat.ea.axis, r = static_cast<int>(cs.size());
  if (axis < 0 || axis >= r || g.shape(cat.in[1]) != cs || cs[axis] != 1) return;
  for (int a = axis + 1; a < r; ++a)
    if (cs[a] != 1) return;
  int sink = SoleUser(g, cat.out[0]);
  if (sink < 0 || !g.nodes[sink].edge || g.nodes[sink].etype != fb::OpType::Reshape) return;
  std::set<int> nodes = {k};
  int sub = ProducerOp(g, SkipViews(g, cat.in[0], &nodes), "Sub");
  int add = ProducerOp(g, SkipViews(g, cat.in[1], &nodes), "Add");
  if (sub < 0 || add < 0) return;
  nodes.insert(sub);
  nodes.insert(add);
  // even = x1*cos_e - x2*sin_e, odd = x1*sin_o + x2*cos_o.
  Term e1, e2, o1, o2;
  if (!TermOf(g, g.nodes[sub].in[0], &e1, &nodes) || !TermOf(g, g.nodes[sub].in[1], &e2, &nodes) ||
      !TermOf(g, g.nodes[add].in[0], &o1, &nodes) || !TermOf(g, g.nodes[add].in[1], &o2, &nodes))
    return;
  if (o1.which == 1) std::swap(o1, o2);
  int x = e1.x;
  if (e1.which != 0 || e2.which != 1 || o1.which != 0 || o2.which != 1 || e2.x != x || o1.x != x || o2.x != x)
    return;
  const Shape xs = g.shape(x);
  // Pair-element shape P = [B, N, (H,) D/2] of the tokens-major x[B, N, C].
  Shape ps = g.shape(g.nodes[sub].in[0]);
  if (xs.size() != 3 || (ps.size() != 3 && ps.size() != 4) || ps[0] != xs[0] || ps[1] != xs[1]) return;
  int64_t heads = ps.size() == 4 ? ps[2] : 1, d2 = ps.back(), dh = 2 * d2, n_tok = xs[1];
  if (heads * dh != xs[2] || NumElements(cs) * 2 != NumElements(xs)) return;
  if (NumElements(g.shape(g.nodes[sink].out[0])) != NumElements(xs)) return;
  for (int n : nodes)
    for (int o : g.nodes[n].out)
      if (o >= 0 && o != cat.out[0] && !OnlyUsedBy(g, o, nodes)) return;
  if (!OnlyUsedBy(g, cat.out[0], {sink})) return;
  std::vector<float> cos(n_tok * dh), sin(n_tok * dh);
  const Tensor &ce = *g.Const(e1.table), &se = *g.Const(e2.table), &so = *g.Const(o1.table),
               &co = *g.Const(o2.table);
  for (int64_t n = 0; n < n_tok; ++n)
    for (int64_t i = 0; i < d2; ++i) {
      float* c = &cos[n * dh + 2 * i];
      float* s = &sin[n * dh + 2 * i];
      if (!TableAt(ce, ps, n, i, c) || !TableAt(co, ps, n, i, c + 1) || !TableAt(se, ps, n, i, s) ||
          !TableAt(so, ps, n, i, s + 1))
        return;
    }
  int out = g.nodes[sink].out[0];
  std::string name = g.nodes[sink].name;
  int cv = NewConstF32(g, name + "/cos", {n_tok, dh}, std::move(cos));
  int sv = NewConstF32(g, name + "/sin", {n_tok, dh}, std::move(sin));
  int y = NewValue(g, g.values[out].name + "/rope", kFloat, xs);
  OpAttrs a;
  a.num_heads = static_cast<int>(heads);
  a.layout = fb::TensorLayout::BSHD;
  a.interleaved = true;
  for (int n : nodes) g.nodes[n].dead = true;
  g.nodes[sink].dead = true;
  AddEdge(g, fb::OpType::RoPE, name + "/rope", {x, cv, sv}, {y}, a, sink);
  AddEdge(g, fb::OpType::Reshape, name, {y}, {out}, OpAttrs(), sink);
  g.Touch();
}

}  // namespace conv
}  // namespace edge
