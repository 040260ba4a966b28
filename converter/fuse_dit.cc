// DiT building blocks: sinusoidal timestep embedding, class embedding, RoPE,
// adaLN modulate and the gated residual.
#include <cmath>

#include "converter/passes.h"

namespace edge {
namespace conv {
namespace {

// Concat(Cos(a), Sin(a)) or Concat(Sin(a), Cos(a)) with a = u[B,1] * freqs,
// freqs[i] = scale * exp(-ln(P) * i / half): TimestepEmbedding.
void FuseTimestep(Graph& g, int k) {
  const Node c = g.nodes[k];
  if (c.op != "Concat" || c.in.size() != 2 || !HasArity(c, 2)) return;
  int r = g.rank(c.out[0]);
  if (r != 2 || NormalizeAxis(c.AttrInt("axis", 0), r) != 1) return;
  int p0 = g.Producer(c.in[0]), p1 = g.Producer(c.in[1]);
  if (p0 < 0 || p1 < 0 || g.nodes[p0].edge || g.nodes[p1].edge) return;
  if (!HasArity(g.nodes[p0], 1) || !HasArity(g.nodes[p1], 1)) return;
  const std::string &o0 = g.nodes[p0].op, &o1 = g.nodes[p1].op;
  bool cos_first = o0 == "Cos" && o1 == "Sin";
  if (!cos_first && !(o0 == "Sin" && o1 == "Cos")) return;
  int a = g.nodes[p0].in[0];
  if (g.nodes[p1].in[0] != a) return;
  int m = ProducerOp(g, a, "Mul");
  if (m < 0) return;
  int u = -1, f = -1;
  for (int s = 0; s < 2; ++s)
    if (g.IsConst(g.nodes[m].in[s]) && !g.IsConst(g.nodes[m].in[1 - s])) {
      f = g.nodes[m].in[s];
      u = g.nodes[m].in[1 - s];
    }
  if (u < 0) return;
  const Shape us = g.shape(u);
  const Tensor* ft = g.Const(f);
  int64_t half = ft->numel();
  if (us.size() != 2 || us[1] != 1 || !ft->is_float() || half < 2 || ft->shape.back() != half) return;
  if (g.shape(a) != Shape({us[0], half})) return;
  double scale = ft->f[0];
  if (scale <= 0 || ft->f[1] <= 0) return;
  double ln_p = -half * std::log(ft->f[1] / scale);
  for (int64_t i = 0; i < half; ++i) {
    double want = scale * std::exp(-ln_p * i / half);
    if (std::fabs(ft->f[i] - want) > 1e-5 * want + 1e-30) return;
  }
  std::set<int> nodes = {k, p0, p1, m};
  for (int n : nodes)
    if (n != k && !OnlyUsedBy(g, g.nodes[n].out[0], nodes)) return;
  int t = ReshapeTo(g, u, {us[0]}, k, g.nodes[k].name + "/t");
  OpAttrs at;
  at.dim = static_cast<int>(2 * half);
  at.max_period = static_cast<float>(std::exp(ln_p));
  at.cos_first = cos_first;
  at.downscale_freq_shift = 0.f;
  at.t_scale = static_cast<float>(scale);
  ReplaceWithEdge(g, nodes, k, fb::OpType::TimestepEmbedding, {t}, at);
}

// Start on the last axis of a step-1 Slice of t with every other axis whole, or -1.
int64_t LastAxisSliceStart(Graph& g, int v, int t) {
  int p = ProducerOp(g, v, "Slice");
  if (p < 0 || g.nodes[p].in[0] != t) return -1;
  const Node& n = g.nodes[p];
  auto st = n.attrs.find("_starts"), sp = n.attrs.find("_steps");
  int r = g.rank(t);
  if (st == n.attrs.end() || sp == n.attrs.end() || st->second.ints.size() != size_t(r) ||
      sp->second.ints.size() != size_t(r) || sp->second.ints[r - 1] != 1)
    return -1;
  for (int a = 0; a + 1 < r; ++a)
    if (st->second.ints[a] != 0 || g.shape(v)[a] != g.shape(t)[a]) return -1;
  return st->second.ints[r - 1];
}

// flip_sin_to_cos: Concat(emb[:, half:], emb[:, :half]) of a TimestepEmbedding
// is the same embedding with the other half first.
void FuseTimestepFlip(Graph& g, int k) {
  const Node c = g.nodes[k];
  if (c.op != "Concat" || c.in.size() != 2 || !HasArity(c, 2) || g.rank(c.out[0]) != 2 ||
      g.rank(c.in[0]) != 2 || NormalizeAxis(c.AttrInt("axis", 0), 2) != 1)
    return;
  int s0 = g.Producer(c.in[0]), s1 = g.Producer(c.in[1]);
  if (s0 < 0 || s1 < 0 || g.nodes[s0].dead || g.nodes[s1].dead || !HasArity(g.nodes[s0], 1)) return;
  int t = g.nodes[s0].in[0];
  int te = ProducerEdge(g, t, fb::OpType::TimestepEmbedding);
  const Shape ts = g.shape(t);
  if (te < 0 || ts.size() != 2 || ts[1] % 2 || g.shape(c.out[0]) != ts) return;
  int64_t half = ts[1] / 2;
  if (g.shape(c.in[0])[1] != half || LastAxisSliceStart(g, c.in[0], t) != half ||
      LastAxisSliceStart(g, c.in[1], t) != 0 || !OnlyUsedBy(g, t, {s0, s1}) || !OnlyUsedBy(g, c.in[0], {k}) ||
      !OnlyUsedBy(g, c.in[1], {k}) || g.values[t].graph_output)
    return;
  g.nodes[te].ea.cos_first = !g.nodes[te].ea.cos_first;
  g.nodes[k].dead = g.nodes[s0].dead = g.nodes[s1].dead = true;
  g.ReplaceUses(c.out[0], t);
  g.Touch();
}

void FuseEmbedding(Graph& g, int k) {
  const Node& n = g.nodes[k];
  if (n.op != "Gather" || !HasArity(n, 2) || n.AttrInt("axis", 0) != 0) return;
  const Tensor* table = g.Const(n.in[0]);
  if (!table || !table->is_float() || table->shape.size() != 2 || g.IsConst(n.in[1])) return;
  int dt = g.values[n.in[1]].dtype;
  if (dt != kInt64 && dt != kInt32) return;
  ReplaceWithEdge(g, {k}, k, fb::OpType::Embedding, {n.in[1], n.in[0]}, OpAttrs());
}

// Half of x along the last axis: 0 = first half, 1 = second half, -1 = neither.
int HalfOf(Graph& g, int v, int x, std::set<int>* nodes) {
  int p = g.Producer(v);
  if (p < 0 || g.nodes[p].edge || In(g.nodes[p], 0) != x) return -1;
  const Node& n = g.nodes[p];
  int r = g.rank(x);
  if (r < 1 || g.rank(v) != r) return -1;
  int64_t d = g.shape(x).back();
  if (d % 2) return -1;
  if (n.op == "Slice") {
    auto st = n.attrs.find("_starts"), sp = n.attrs.find("_steps");
    if (st == n.attrs.end() || sp == n.attrs.end() || st->second.ints.size() < size_t(r) ||
        sp->second.ints.size() < size_t(r))
      return -1;
    for (int a = 0; a < r - 1; ++a)
      if (st->second.ints[a] != 0 || g.shape(v)[a] != g.shape(x)[a]) return -1;
    if (sp->second.ints[r - 1] != 1 || g.shape(v).back() != d / 2) return -1;
    int64_t s = st->second.ints[r - 1];
    nodes->insert(p);
    return s == 0 ? 0 : s == d / 2 ? 1 : -1;
  }
  if (n.op == "Split" && n.out.size() == 2 && HasArity(n, 1, 2) && NormalizeAxis(n.AttrInt("axis", 0), r) == r - 1 &&
      g.shape(n.out[0]).back() == d / 2) {
    nodes->insert(p);
    return n.out[0] == v ? 0 : 1;
  }
  return -1;
}

// True when the `rows` equal leading slices of t are identical.
bool SameRows(const Tensor& t, int64_t rows) {
  if (rows < 1 || t.f.size() % rows) return false;
  size_t len = t.f.size() / rows;
  for (size_t k = len; k < t.f.size(); ++k)
    if (t.f[k] != t.f[k % len]) return false;
  return true;
}

// rot = Concat(-x[d/2:], x[:d/2]) on the last axis (rotate-half RoPE).
bool IsRotateHalf(Graph& g, int rot, int x, std::set<int>* nodes) {
  int cat = ProducerOp(g, rot, "Concat");
  int r = g.rank(x);
  if (cat < 0) return false;
  const Node& cn = g.nodes[cat];
  if (cn.in.size() != 2 || !HasArity(cn, 2) || NormalizeAxis(cn.AttrInt("axis", 0), r) != r - 1) return false;
  std::set<int> found = {cat};
  int neg = ProducerOp(g, cn.in[0], "Neg");
  if (neg < 0) return false;
  found.insert(neg);
  if (HalfOf(g, g.nodes[neg].in[0], x, &found) != 1 || HalfOf(g, cn.in[1], x, &found) != 0) return false;
  nodes->insert(found.begin(), found.end());
  return true;
}

void FuseRope(Graph& g, int k) {
  const Node add = g.nodes[k];  // a copy: helpers below add nodes
  if (add.op != "Add" || !HasArity(add, 2)) return;
  for (int side = 0; side < 2; ++side) {
    int m1 = ProducerOp(g, add.in[side], "Mul"), m2 = ProducerOp(g, add.in[1 - side], "Mul");
    if (m1 < 0 || m2 < 0) continue;
    int x = -1, cosv = -1, rot = -1, sinv = -1;
    for (int s = 0; s < 2; ++s) {
      if (g.IsConst(g.nodes[m1].in[s]) && !g.IsConst(g.nodes[m1].in[1 - s])) {
        cosv = g.nodes[m1].in[s];
        x = g.nodes[m1].in[1 - s];
      }
      if (g.IsConst(g.nodes[m2].in[s]) && !g.IsConst(g.nodes[m2].in[1 - s])) {
        sinv = g.nodes[m2].in[s];
        rot = g.nodes[m2].in[1 - s];
      }
    }
    if (x < 0 || rot < 0) continue;
    const Shape xs = g.shape(x);  // a copy: NewConstF32 below may move g.values
    int r = static_cast<int>(xs.size());
    if ((r != 3 && r != 4) || g.shape(add.out[0]) != xs) continue;
    std::set<int> nodes = {k, m1, m2};
    bool interleaved = IsRotatePairs(g, rot, x, &nodes);
    if (!interleaved && !IsRotateHalf(g, rot, x, &nodes)) continue;
    // cos/sin must depend on (token, channel) only.
    int64_t dh = xs[r - 1];
    int64_t n_tok = r == 4 ? xs[2] : xs[1];
    bool bshd4 = false;
    const Tensor *ct = g.Const(cosv), *stt = g.Const(sinv);
    if (!ct->is_float() || !stt->is_float() || ct->shape != stt->shape) continue;
    Shape cs = ct->shape;
    while (static_cast<int>(cs.size()) < r) cs.insert(cs.begin(), 1);
    if (static_cast<int>(cs.size()) != r || cs[r - 1] != dh) continue;
    // A table repeated over the batch (LTX-Video builds one per sample): one copy.
    if (cs[0] > 1 && cs[0] == xs[0] && SameRows(*ct, cs[0]) && SameRows(*stt, cs[0])) cs[0] = 1;
    if (r == 4) {
      if (cs[0] == 1 && cs[1] == 1 && cs[2] == xs[2]) {
        n_tok = xs[2];
      } else if (cs[0] == 1 && cs[1] == xs[1] && cs[2] == 1) {
        n_tok = xs[1];
        bshd4 = true;
      } else {
        continue;
      }
    } else if (!(cs[0] == 1 && cs[1] == xs[1])) {
      continue;
    }
    bool closed = true;
    for (int n : nodes)
      for (int o : g.nodes[n].out)
        if (o >= 0 && o != add.out[0] && !OnlyUsedBy(g, o, nodes)) closed = false;
    if (!closed) continue;
    const size_t table = static_cast<size_t>(n_tok * dh);
    if (ct->f.size() < table || stt->f.size() < table) continue;
    int cos2 = NewConstF32(g, g.values[cosv].name + "/rope", {n_tok, dh},
                           std::vector<float>(ct->f.begin(), ct->f.begin() + table));
    int sin2 = NewConstF32(g, g.values[sinv].name + "/rope", {n_tok, dh},
                           std::vector<float>(stt->f.begin(), stt->f.begin() + table));
    OpAttrs a;
    a.interleaved = interleaved;
    if (r == 4 && !bshd4) {
      a.num_heads = static_cast<int>(xs[1]);
      a.layout = fb::TensorLayout::BHSD;
      ReplaceWithEdge(g, nodes, k, fb::OpType::RoPE, {x, cos2, sin2}, a);
    } else {
      // Tokens major: run on [B, N, H*dh] and view back.
      a.num_heads = r == 4 ? static_cast<int>(xs[2]) : 1;
      a.layout = fb::TensorLayout::BSHD;
      Shape flat = {xs[0], n_tok, r == 4 ? xs[2] * dh : dh};
      int xin = ReshapeTo(g, x, flat, k, add.name + "/flat");
      int y = NewValue(g, g.values[add.out[0]].name + "/bshd", kFloat, flat);
      int out = add.out[0];
      std::string name = add.name;
      for (int n : nodes) g.nodes[n].dead = true;
      AddEdge(g, fb::OpType::RoPE, name, {xin, cos2, sin2}, {y}, a, k);
      AddEdge(g, fb::OpType::Reshape, name + "/view", {y}, {out}, OpAttrs(), k);
    }
    return;
  }
}

// x*(1+scale)+shift with x[B,N,D], shift/scale [B,1,D]: Modulate.
void FuseModulate(Graph& g, int k) {
  const Node add = g.nodes[k];  // a copy: helpers below add nodes
  if (add.op != "Add" || !HasArity(add, 2)) return;
  const Shape ys = g.shape(add.out[0]);
  if (ys.size() != 3) return;
  Shape vec = {ys[0], 1, ys[2]};
  for (int side = 0; side < 2; ++side) {
    int mul = ProducerOp(g, add.in[side], "Mul");
    int shift = add.in[1 - side];
    if (mul < 0 || g.shape(shift) != vec) continue;
    for (int ms = 0; ms < 2; ++ms) {
      int x = g.nodes[mul].in[ms];
      std::set<int> nodes = {k, mul};
      // 1 + scale on [B, 1, D], or on [B, D] and then viewed as [B, 1, D]
      // (CogVideoX adds the 1 before unsqueezing).
      int factor = g.nodes[mul].in[1 - ms];
      Shape want = vec;
      int view = ProducerEdge(g, factor, fb::OpType::Reshape);
      if (view >= 0 && g.shape(factor) == vec && g.shape(g.nodes[view].in[0]) == Shape({ys[0], ys[2]})) {
        nodes.insert(view);
        factor = g.nodes[view].in[0];
        want = {ys[0], ys[2]};
      }
      if (g.shape(factor) != want) continue;
      int one_plus = ProducerOp(g, factor, "Add");
      if (one_plus < 0 || g.shape(x) != ys) continue;
      int scale = -1;
      double one;
      for (int s = 0; s < 2; ++s)
        if (ScalarConst(g, g.nodes[one_plus].in[s], &one) && one == 1.0) scale = g.nodes[one_plus].in[1 - s];
      if (scale < 0 || g.shape(scale) != want) continue;
      nodes.insert(one_plus);
      bool inner = true;
      for (int n : nodes)
        if (n != k && !OnlyUsedBy(g, g.nodes[n].out[0], nodes)) inner = false;
      if (!inner) continue;
      Shape bd = {ys[0], ys[2]};
      int sh = ReshapeTo(g, shift, bd, k, add.name + "/shift");
      int sc = ReshapeTo(g, scale, bd, k, add.name + "/scale");
      ReplaceWithEdge(g, nodes, k, fb::OpType::Modulate, {x, sh, sc}, OpAttrs());
      return;
    }
  }
}

// x + gate*y with x,y [B,N,D], gate [B,1,D]: GatedResidual.
void FuseGatedResidual(Graph& g, int k) {
  const Node add = g.nodes[k];  // a copy: helpers below add nodes
  if (add.op != "Add" || !HasArity(add, 2)) return;
  const Shape ys = g.shape(add.out[0]);
  if (ys.size() != 3) return;
  Shape vec = {ys[0], 1, ys[2]};
  for (int side = 0; side < 2; ++side) {
    int x = add.in[1 - side];
    int mul = ProducerOp(g, add.in[side], "Mul");
    if (mul < 0 || g.shape(x) != ys || !OnlyUsedBy(g, add.in[side], {k})) continue;
    for (int ms = 0; ms < 2; ++ms) {
      int gate = g.nodes[mul].in[ms], y = g.nodes[mul].in[1 - ms];
      if (g.shape(gate) != vec || g.shape(y) != ys || g.IsConst(gate)) continue;
      int gt = ReshapeTo(g, gate, {ys[0], ys[2]}, k, add.name + "/gate");
      ReplaceWithEdge(g, {k, mul}, k, fb::OpType::GatedResidual, {x, gt, y}, OpAttrs());
      return;
    }
  }
}

}  // namespace

void FuseDit(Graph& g) {
  using Fn = void (*)(Graph&, int);
  for (Fn fn : {FuseTimestep, FuseTimestepFlip, FuseEmbedding, FuseRope, FuseRopeSlots, FuseModulate,
                FuseGatedResidual}) {
    size_t n = g.nodes.size();
    for (size_t k = 0; k < n; ++k)
      if (!g.nodes[k].dead && (!g.nodes[k].edge || fn == FuseRopeSlots)) fn(g, static_cast<int>(k));
    g.Compact();
  }
}

}  // namespace conv
}  // namespace edge
