// Rewrites of ONNX ops that have no edge op of their own into edge ops that
// do the same work, after inference (shapes are known) and before fusion:
//  - ScatterND with constant indices that write a strided range of one axis
//    (how torch exports `y[..., a:b] = u` and `y[..., 0::2] = u`, e.g. RoPE
//    written back into a token range or into interleaved pairs): Slice/Concat.
//  - InstanceNormalization (how GroupNorm is exported: over [N, G, L]): an
//    edge GroupNorm, on the tensor before the [N, G, L] view when there is one.
//  - Resize, nearest, by integer factors: Upsample (images) or copies along
//    new unit axes (Concat) when frames grow too.
//  - 3-D Conv with a temporal kernel of 1: a 2-D Conv over frames as batch.
//  - Zero Pad of the spatial axes in front of 2-D Convs only (how a VAE
//    encoder's asymmetric downsampling pad is exported): the Convs' own
//    padding, which may differ per side.
// fold.cc's Folder::Rewritten accepts exactly these forms; a node a rule here
// does not take is left in place and reported by Lower.
#include <algorithm>
#include <map>

#include "converter/passes.h"

namespace edge {
namespace conv {
namespace {

Shape Concatenated(const std::vector<int>& parts, Graph& g, int axis) {
  Shape s = g.shape(parts[0]);
  s[axis] = 0;
  for (int p : parts) s[axis] += g.shape(p)[axis];
  return s;
}

int EdgeConcat(Graph& g, const std::vector<int>& parts, int axis, int before, const std::string& name) {
  if (parts.size() == 1) return parts[0];
  int out = NewValue(g, name + "/cat", g.values[parts[0]].dtype, Concatenated(parts, g, axis));
  OpAttrs a;
  a.axis = axis;
  AddEdge(g, fb::OpType::Concat, name + "/cat", parts, {out}, a, before);
  return out;
}

// [lo, hi) of `axis` of v: a new constant when v is one, else an edge Slice.
int SliceAxis(Graph& g, int v, int axis, int64_t lo, int64_t hi, int before, const std::string& name) {
  Shape s = g.shape(v);
  int r = static_cast<int>(s.size());
  Shape os = s;
  os[axis] = hi - lo;
  if (const Tensor* t = g.Const(v)) {
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; ++d) outer *= s[d];
    for (int d = axis + 1; d < r; ++d) inner *= s[d];
    std::vector<float> data;
    data.reserve(NumElements(os));
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = lo; i < hi; ++i)
        for (int64_t e = 0; e < inner; ++e) data.push_back(t->f[(o * s[axis] + i) * inner + e]);
    return NewConstF32(g, name + "/part", os, std::move(data));
  }
  OpAttrs a;
  a.starts.assign(r, 0);
  a.steps.assign(r, 1);
  a.starts[axis] = lo;
  int out = NewValue(g, name + "/part", g.values[v].dtype, os);
  AddEdge(g, fb::OpType::Slice, name + "/slice", {v}, {out}, a, before);
  return out;
}

int Reshaped(Graph& g, int v, const Shape& s, int before, const std::string& name) {
  if (const Tensor* t = g.Const(v)) return NewConstF32(g, name + "/view", s, t->f);
  return ReshapeTo(g, v, s, before, name);
}

// v = Transpose(w, perm) (an ONNX or edge Transpose, through Identities):
// w and its perm (out axis i is w's axis perm[i]), else -1.
int TransposeSource(Graph& g, int v, std::vector<int>* perm) {
  for (int depth = 0; depth < 4; ++depth) {
    const int p = g.Producer(v);
    if (p < 0 || g.nodes[p].dead || !HasArity(g.nodes[p], 1)) return -1;
    const Node& n = g.nodes[p];
    if (!n.edge && n.op == "Identity") {
      v = n.in[0];
      continue;
    }
    const int r = g.rank(n.in[0]);
    std::vector<int> q;
    if (n.edge && n.etype == fb::OpType::Transpose) {
      q = n.ea.perm;
    } else if (!n.edge && n.op == "Transpose") {
      std::vector<int64_t> a = n.AttrInts("perm");
      if (a.empty())
        for (int d = r - 1; d >= 0; --d) a.push_back(d);
      for (int64_t x : a) q.push_back(static_cast<int>(x < 0 ? x + r : x));
    } else {
      return -1;
    }
    std::vector<bool> seen(r, false);
    if (static_cast<int>(q.size()) != r) return -1;
    for (int x : q) {
      if (x < 0 || x >= r || seen[x]) return -1;
      seen[x] = true;
    }
    *perm = q;
    return n.in[0];
  }
  return -1;
}

// The w with v = Transpose(w, perm): the Transpose's input when v is one with
// this perm, a permuted copy when v is constant, else an edge Transpose by
// the inverse permutation (which Canonicalize composes away where it can).
int Untransposed(Graph& g, int v, const std::vector<int>& perm, int before, const std::string& name) {
  std::vector<int> q;
  int w = TransposeSource(g, v, &q);
  if (w >= 0 && q == perm) return w;
  const Shape vs = g.shape(v);
  const int r = static_cast<int>(perm.size());
  Shape ws(r);
  std::vector<int> inv(r);
  for (int i = 0; i < r; ++i) {
    ws[perm[i]] = vs[i];
    inv[perm[i]] = i;
  }
  if (const Tensor* t = g.Const(v)) {
    // w[j] = v[i] where j[perm[i]] = i-th index of v.
    std::vector<float> data(t->f.size());
    std::vector<int64_t> idx(r, 0);
    for (size_t e = 0; e < t->f.size(); ++e) {
      int64_t off = 0;
      for (int a = 0; a < r; ++a) off = off * ws[a] + idx[inv[a]];
      data[off] = t->f[e];
      for (int a = r - 1; a >= 0; --a) {
        if (++idx[a] < vs[a]) break;
        idx[a] = 0;
      }
    }
    return NewConstF32(g, name + "/untransposed", ws, std::move(data));
  }
  OpAttrs a;
  a.perm = inv;
  int out = NewValue(g, name + "/untransposed", g.values[v].dtype, ws);
  AddEdge(g, fb::OpType::Transpose, name + "/untranspose", {v}, {out}, a, before);
  return out;
}

// The output of a lowered strided scatter, kept as its parts so that a second
// scatter into the other phase (y[..., 0::2] = a; y[..., 1::2] = b) reuses
// them instead of slicing the first one's Concat again.
struct Phases {
  Shape split;             // [outer, m, step, inner]
  std::vector<int> parts;  // `step` values of shape [outer, m, 1, inner]
};

class ScatterRewriter {
 public:
  explicit ScatterRewriter(Graph& g) : g_(g) {}
  bool Rewrite(int k);

 private:
  // Axis `a` of the data gets updates at s, s + step, ... (n of them).
  bool Analyze(const Node& n, int* axis, int64_t* start, int64_t* step);
  Graph& g_;
  std::map<int, Phases> phases_;
};

bool ScatterRewriter::Analyze(const Node& n, int* axis, int64_t* start, int64_t* step) {
  const Shape d = g_.shape(n.in[0]), is = g_.shape(n.in[1]), u = g_.shape(n.in[2]);
  const Tensor* idx = g_.Const(n.in[1]);
  int r = static_cast<int>(d.size());
  int64_t k = is.back();
  // One index tuple per update row, addressing the first k axes: the updates
  // then have the data's rank, and the tuple at update position p (over the
  // first k axes) is where that row goes.
  if (static_cast<int64_t>(is.size()) - 1 != k || static_cast<int>(u.size()) != r || idx->is_float()) return false;
  int a = -1;
  for (int x = 0; x < r; ++x)
    if (u[x] != d[x]) {
      if (a >= 0 || x >= k) return false;
      a = x;
    }
  int64_t tuples = NumElements(Shape(is.begin(), is.end() - 1));
  if (tuples < 1 || static_cast<int64_t>(idx->i.size()) != tuples * k) return false;
  auto target = [&](int64_t t, int64_t x) {
    int64_t v = idx->i[t * k + x];
    return v < 0 ? v + d[x] : v;
  };
  for (int cand = (a >= 0 ? a : 0); cand < (a >= 0 ? a + 1 : k); ++cand) {
    int64_t s = target(0, cand), st = 1;
    if (u[cand] > 1) {
      int64_t stride = 1;  // tuple stride of axis `cand` in the flattened positions
      for (int64_t x = cand + 1; x < k; ++x) stride *= u[x];
      st = target(stride, cand) - s;
    }
    if (st < 1 || s < 0 || s + st * (u[cand] - 1) >= d[cand]) continue;
    bool ok = true;
    std::vector<int64_t> pos(k, 0);
    for (int64_t t = 0; t < tuples && ok; ++t) {
      for (int64_t x = 0; x < k && ok; ++x) {
        int64_t want = x == cand ? s + st * pos[x] : pos[x];
        ok = target(t, x) == want;
      }
      for (int64_t x = k - 1; x >= 0; --x) {
        if (++pos[x] < u[x]) break;
        pos[x] = 0;
      }
    }
    if (!ok) continue;
    if (st > 1 && (d[cand] % st != 0 || u[cand] != d[cand] / st || s >= st)) continue;
    *axis = cand;
    *start = s;
    *step = st;
    return true;
  }
  return false;
}

bool ScatterRewriter::Rewrite(int k) {
  const Node n = g_.nodes[k];
  // Constant updates into a computed tensor are left alone (reported): torch
  // writes computed rows; data and updates both constant fold in fold.cc.
  if (!HasArity(n, 3) || !g_.IsConst(n.in[1]) || g_.IsConst(n.in[2]) || !IsFloatType(g_.values[n.in[0]].dtype))
    return false;
  if (g_.rank(n.in[1]) < 1 || g_.rank(n.in[0]) < 1) return false;
  int a = 0;
  int64_t s = 0, st = 1;
  if (!Analyze(n, &a, &s, &st)) return false;
  int data = n.in[0], upd = n.in[2], out = n.out[0];
  std::string name = n.name;
  // torch's dynamo exporter writes y[..., 0::2] = u with the written axis
  // moved first: a ScatterND over Transpose(y, P) with updates Transpose(u, P),
  // then the inverse Transpose. The write is done on y's own layout (axis
  // P[a]) and transposed once at the end, so that Canonicalize cancels the
  // Transpose pair and the RoPE fusers see the same interleaving Concat as
  // in a legacy export. (Range writes, step 1, stay on the transposed
  // layout: there the Concat of head, update and tail needs no fusing.)
  std::vector<int> perm;
  const int u_src = st > 1 ? TransposeSource(g_, upd, &perm) : -1;
  if (u_src >= 0) {
    data = Untransposed(g_, data, perm, k, name + "/data");
    upd = u_src;
    a = perm[a];
  }
  const Shape d = g_.shape(data);
  const int64_t na = g_.shape(upd)[a];
  int64_t outer = 1, inner = 1;
  for (int x = 0; x < a; ++x) outer *= d[x];
  for (size_t x = a + 1; x < d.size(); ++x) inner *= d[x];
  const int result = u_src < 0 ? out : NewValue(g_, name + "/result", g_.values[out].dtype, d);
  g_.nodes[k].dead = true;
  if (st == 1) {
    int d3 = Reshaped(g_, data, {outer, d[a], inner}, k, name + "/data");
    int u3 = Reshaped(g_, upd, {outer, na, inner}, k, name + "/upd");
    std::vector<int> parts;
    if (s > 0) parts.push_back(SliceAxis(g_, d3, 1, 0, s, k, name + "/head"));
    parts.push_back(u3);
    if (s + na < d[a]) parts.push_back(SliceAxis(g_, d3, 1, s + na, d[a], k, name + "/tail"));
    int cat = EdgeConcat(g_, parts, 1, k, name);
    AddEdge(g_, fb::OpType::Reshape, name, {cat}, {result}, OpAttrs(), k);
  } else {
    Shape split = {outer, d[a] / st, st, inner};
    std::vector<int> parts;
    auto it = phases_.find(data);
    if (it != phases_.end() && it->second.split == split) {
      parts = it->second.parts;
    } else {
      int d4 = Reshaped(g_, data, split, k, name + "/data");
      for (int64_t p = 0; p < st; ++p) parts.push_back(SliceAxis(g_, d4, 2, p, p + 1, k, name + "/phase"));
    }
    parts[s] = Reshaped(g_, upd, {outer, d[a] / st, 1, inner}, k, name + "/upd");
    int cat = EdgeConcat(g_, parts, 2, k, name);
    AddEdge(g_, fb::OpType::Reshape, name, {cat}, {result}, OpAttrs(), k);
    phases_[result] = {split, parts};
  }
  if (u_src >= 0) {
    OpAttrs t;
    t.perm = perm;
    AddEdge(g_, fb::OpType::Transpose, name + "/transpose", {result}, {out}, t, k);
  }
  g_.Touch();
  return true;
}

bool AllEqual(const std::vector<float>& v, float x) {
  return std::all_of(v.begin(), v.end(), [x](float f) { return f == x; });
}

// InstanceNormalization over v[N, G, ...] is GroupNorm with one channel per
// group. GroupNorm exports it over a view of x[N, C, ...] as [N, G, L] with
// unit scale and zero bias: then the GroupNorm runs on x itself (groups of
// C/G consecutive channels are the same contiguous runs), and its per-channel
// affine, applied after the view back, is fused later (FuseGroupNorm).
bool RewriteInstanceNorm(Graph& g, int k) {
  const Node n = g.nodes[k];
  if (!HasArity(n, 3)) return false;
  const Shape v = g.shape(n.in[0]);
  const Tensor *sc = g.Const(n.in[1]), *bi = g.Const(n.in[2]);
  if (v.size() < 3 || !sc || !bi || !sc->is_float() || !bi->is_float() || sc->numel() != v[1] ||
      bi->numel() != v[1] || !IsFloatType(g.values[n.in[0]].dtype))
    return false;
  std::string name = n.name;
  int out = n.out[0];
  OpAttrs a;
  a.epsilon = n.AttrFloat("epsilon", 1e-5f);
  a.groups = static_cast<int>(v[1]);
  const bool plain = AllEqual(sc->f, 1.f) && AllEqual(bi->f, 0.f);
  const int view = ProducerOp(g, n.in[0], "Reshape");
  const int x = view >= 0 ? g.nodes[view].in[0] : -1;
  const Shape xs = x >= 0 ? g.shape(x) : Shape();
  if (plain && xs.size() >= 3 && xs[0] == v[0] && xs[1] % v[1] == 0 && NumElements(xs) == NumElements(v) &&
      IsFloatType(g.values[x].dtype)) {
    g.nodes[k].dead = true;
    int y = NewValue(g, name + "/norm", kFloat, xs);
    AddEdge(g, fb::OpType::GroupNorm, name, {x, -1, -1}, {y}, a, k);
    AddEdge(g, fb::OpType::Reshape, name + "/view", {y}, {out}, OpAttrs(), k);
  } else {
    int gamma = AllEqual(sc->f, 1.f) ? -1 : NewConstF32(g, name + "/scale", {v[1]}, sc->f);
    int beta = AllEqual(bi->f, 0.f) ? -1 : NewConstF32(g, name + "/bias", {v[1]}, bi->f);
    g.nodes[k].dead = true;
    AddEdge(g, fb::OpType::GroupNorm, name, {n.in[0], gamma, beta}, {out}, a, k);
  }
  g.Touch();
  return true;
}

// Nearest upsampling by integer factors: the edge Upsample op when only the
// last two axes grow (images); otherwise (frames too) x viewed with a unit
// axis after each spatial axis, that axis filled by Concat of copies, viewed
// back.
bool RewriteResize(Graph& g, int k) {
  const Node n = g.nodes[k];
  if (!HasArity(n, 1) || !g.values[n.out[0]].known || !IsFloatType(g.values[n.in[0]].dtype)) return false;
  const Shape x = g.shape(n.in[0]), y = g.shape(n.out[0]);
  if (x.size() != y.size() || x.size() < 3) return false;
  Shape expanded;
  bool last_two = true;
  for (size_t d = 0; d < x.size(); ++d) {
    if (x[d] < 1 || y[d] < x[d] || y[d] % x[d] != 0 || y[d] / x[d] > 64) return false;
    if (d + 2 < x.size() && y[d] != x[d]) last_two = false;
    expanded.push_back(x[d]);
    if (d >= 2) expanded.push_back(1);
  }
  std::string name = n.name;
  int out = n.out[0];
  if (last_two) {
    g.nodes[k].dead = true;
    AddEdge(g, fb::OpType::Upsample, name, {n.in[0]}, {out}, OpAttrs(), k);
    g.Touch();
    return true;
  }
  if (expanded.size() > 8) return false;  // the runtime's largest rank
  g.nodes[k].dead = true;
  int v = ReshapeTo(g, n.in[0], expanded, k, name + "/units");
  for (size_t d = 2; d < x.size(); ++d) {
    int64_t f = y[d] / x[d];
    int axis = static_cast<int>(2 + 2 * (d - 2) + 1);
    std::vector<int> copies(f, v);
    v = EdgeConcat(g, copies, axis, k, name + "/" + std::to_string(d));
  }
  AddEdge(g, fb::OpType::Reshape, name, {v}, {out}, OpAttrs(), k);
  g.Touch();
  return true;
}

Attr IntsAttr(std::vector<int64_t> v) {
  Attr a;
  a.kind = Attr::kInts;
  a.ints = std::move(v);
  return a;
}

// Conv over x[B, C, F, H, W] with W[O, C/g, 1, kh, kw]: frames into the batch,
// a 2-D Conv (lowered as any other), frames back out.
bool RewriteConv3d(Graph& g, int k) {
  const Node n = g.nodes[k];
  if (!HasArity(n, 2) || g.rank(n.in[0]) != 5 || !g.values[n.out[0]].known) return false;
  const Tensor* w = g.Const(n.in[1]);
  const Shape x = g.shape(n.in[0]), y = g.shape(n.out[0]);
  if (!w || !w->is_float() || w->shape.size() != 5 || w->shape[2] != 1 || y.size() != 5) return false;
  std::vector<int64_t> pads = n.AttrInts("pads"), strides = n.AttrInts("strides"), dil = n.AttrInts("dilations");
  if (pads.empty()) pads.assign(6, 0);
  if (strides.empty()) strides.assign(3, 1);
  if (dil.empty()) dil.assign(3, 1);
  if (pads.size() != 6 || strides.size() != 3 || dil.size() != 3) return false;
  std::string name = n.name;
  int out = n.out[0];
  int bias = In(n, 2);
  g.nodes[k].dead = true;
  OpAttrs t;
  t.perm = {0, 2, 1, 3, 4};
  int xt = NewValue(g, name + "/frames", kFloat, {x[0], x[2], x[1], x[3], x[4]});
  AddEdge(g, fb::OpType::Transpose, name + "/frames", {n.in[0]}, {xt}, t, k);
  int x4 = ReshapeTo(g, xt, {x[0] * x[2], x[1], x[3], x[4]}, k, name + "/batch");
  const Shape ws = w->shape;
  int w4 = NewConstF32(g, g.values[n.in[1]].name + "/2d", {ws[0], ws[1], ws[3], ws[4]}, w->f);
  int y4 = NewValue(g, name + "/2d", kFloat, {y[0] * y[2], y[1], y[3], y[4]});
  Node c;
  c.op = "Conv";
  c.name = name + "/2d";
  c.in = {x4, w4};
  if (bias >= 0) c.in.push_back(bias);
  c.out = {y4};
  c.attrs["pads"] = IntsAttr({pads[1], pads[2], pads[4], pads[5]});
  c.attrs["strides"] = IntsAttr({strides[1], strides[2]});
  c.attrs["dilations"] = IntsAttr({dil[1], dil[2]});
  Attr grp;
  grp.kind = Attr::kInt;
  grp.i = n.AttrInt("group", 1);
  c.attrs["group"] = grp;
  g.AddNode(c, k);
  int y5 = ReshapeTo(g, y4, {y[0], y[2], y[1], y[3], y[4]}, k, name + "/unbatch");
  AddEdge(g, fb::OpType::Transpose, name, {y5}, {out}, t, k);
  g.Touch();
  return true;
}

}  // namespace

// The spatial pads [top, left, bottom, right] of node k when it is a Pad that
// FoldPadIntoConvs takes, else empty.
std::vector<int64_t> PadForConvs(Graph& g, int k) {
  const Node& n = g.nodes[k];
  if (n.op != "Pad" || n.out.size() != 1 || g.rank(In(n, 0)) != 4 ||
      n.AttrString("mode", "constant") != "constant" || In(n, 3) >= 0)  // axes
    return {};
  std::vector<int64_t> pads;
  if (In(n, 1) >= 0) {
    const Tensor* t = g.Const(In(n, 1));
    if (!t || t->is_float()) return {};
    pads = t->i;
  } else {
    pads = n.AttrInts("pads");  // before opset 11
  }
  if (pads.size() != 8 || pads[0] || pads[1] || pads[4] || pads[5]) return {};
  for (int64_t v : pads)
    if (v < 0 || v > (1 << 20)) return {};
  double value = 0;
  if (In(n, 2) >= 0 && (!g.ConstScalar(In(n, 2), &value) || value != 0)) return {};
  if (n.AttrFloat("value", 0.f) != 0.f) return {};
  const int out = n.out[0];
  if (g.values[out].graph_output) return {};
  const std::vector<int> users = g.Users(out);
  if (users.empty()) return {};
  for (int u : users) {
    const Node& c = g.nodes[u];
    if (c.dead || c.edge || c.op != "Conv" || In(c, 0) != out || In(c, 1) == out || In(c, 2) == out) return {};
    if (g.rank(In(c, 1)) != 4 || c.AttrString("auto_pad", "NOTSET") != "NOTSET") return {};
    const std::vector<int64_t> cp = c.AttrInts("pads");
    if (!cp.empty() && cp.size() != 4) return {};
  }
  return {pads[2], pads[3], pads[6], pads[7]};
}

namespace {

// Pad(x, pads) with mode constant and value 0 on the two spatial axes of a
// rank-4 tensor, read only by 2-D Convs: each Conv reads x and adds the pads
// to its own (the Conv pads with zeros too, so the output is the same).
bool FoldPadIntoConvs(Graph& g, int k) {
  const std::vector<int64_t> pads = PadForConvs(g, k);
  if (pads.empty()) return false;
  const int x = g.nodes[k].in[0];
  const std::vector<int> users = g.Users(g.nodes[k].out[0]);
  for (int u : users) {
    Node& c = g.nodes[u];
    std::vector<int64_t> cp = c.AttrInts("pads");
    if (cp.empty()) cp.assign(4, 0);
    // Both in ONNX order: [top, left, bottom, right].
    c.attrs["pads"] = IntsAttr({cp[0] + pads[0], cp[1] + pads[1], cp[2] + pads[2], cp[3] + pads[3]});
    c.in[0] = x;
  }
  g.nodes[k].dead = true;
  g.Touch();
  return true;
}

}  // namespace

void RewriteOps(Graph& g) {
  ScatterRewriter scatter(g);
  size_t count = g.nodes.size();
  for (size_t k = 0; k < count; ++k) {
    const Node& n = g.nodes[k];
    if (n.dead || n.edge || !n.domain.empty()) continue;
    int i = static_cast<int>(k);
    if (n.op == "ScatterND") scatter.Rewrite(i);
    else if (n.op == "InstanceNormalization") RewriteInstanceNorm(g, i);
    else if (n.op == "Resize") RewriteResize(g, i);
    else if (n.op == "Conv" && g.rank(In(n, 0)) == 5) RewriteConv3d(g, i);
    else if (n.op == "Pad") FoldPadIntoConvs(g, i);
  }
  g.RemoveDeadCode();
  g.Compact();
}

}  // namespace conv
}  // namespace edge
