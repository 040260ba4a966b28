// Attention fusion: MatMul(q, kT) -> scalar scale(s) -> Softmax -> MatMul(., v)
// becomes one Attention op. The head reshapes/transposes/splits around it are
// absorbed by tracing each operand as a strided view of a plain tensor: when q,
// k and v are column ranges of [B, N, C] tensors (what the projections write)
// and the output goes straight back to [B, N, H*dh], the op runs in BSHD layout
// on those tensors (a fused qkv projection is split into separate Linears, or
// sliced). Otherwise it runs in BHSD layout on the [B, H, N, dh] tensors.
#include <cmath>
#include <map>

#include "converter/passes.h"

namespace edge {
namespace conv {
namespace {

struct View {
  int src = -1;
  int64_t offset = 0;
  Shape shape;
  std::vector<int64_t> strides;
  double scale = 1.0;  // scalar factors met on the way (they commute with views)
};

View Contiguous(Graph& g, int v) {
  View w;
  w.src = v;
  w.shape = g.shape(v);
  w.strides.assign(w.shape.size(), 1);
  for (int k = static_cast<int>(w.shape.size()) - 2; k >= 0; --k) w.strides[k] = w.strides[k + 1] * w.shape[k + 1];
  return w;
}

// numpy's no-copy reshape: new strides for `nd` over a strided view, if any.
bool ReshapeView(const View& in, const Shape& nd, View* out) {
  if (in.shape.size() != in.strides.size()) return false;
  Shape od;
  std::vector<int64_t> os;
  for (size_t k = 0; k < in.shape.size(); ++k)
    if (in.shape[k] != 1) {
      od.push_back(in.shape[k]);
      os.push_back(in.strides[k]);
    }
  std::vector<int64_t> ns(nd.size(), 1);
  size_t oi = 0, oj = 1, ni = 0, nj = 1;
  // Skip leading new 1-dims handled by the product walk below.
  while (ni < nd.size() && oi < od.size()) {
    int64_t np = nd[ni], op = od[oi];
    while (np != op) {
      if (np < op) {
        if (nj >= nd.size()) return false;
        np *= nd[nj++];
      } else {
        if (oj >= od.size()) return false;
        op *= od[oj++];
      }
    }
    for (size_t ok = oi; ok + 1 < oj; ++ok)
      if (os[ok] != od[ok + 1] * os[ok + 1]) return false;
    ns[nj - 1] = os[oj - 1];
    for (size_t nk = nj - 1; nk > ni; --nk) ns[nk - 1] = ns[nk] * nd[nk];
    ni = nj++;
    oi = oj++;
  }
  for (size_t k = 0; k < nd.size(); ++k)
    if (nd[k] == 1 && k >= ni) ns[k] = 1;
  if (NumElements(nd) != NumElements(in.shape)) return false;
  out->src = in.src;
  out->offset = in.offset;
  out->shape = nd;
  out->strides = ns;
  return true;
}

// Scalar factor of a single-use Mul/Div by a constant producing v (0 if not one).
double ScalarFactor(Graph& g, int p, int v) {
  if (p < 0 || g.nodes[p].edge || SoleUser(g, v) < 0 || !HasArity(g.nodes[p], 2)) return 0;
  const Node& n = g.nodes[p];
  double c;
  if (n.op == "Mul" && ScalarConst(g, In(n, 1), &c)) return c;
  if (n.op == "Div" && ScalarConst(g, In(n, 1), &c) && c != 0) return 1.0 / c;
  return 0;
}

// Applies one view op (node p, producing value `out`) to a view of its input.
bool Step(Graph& g, int p, int out, const View& in, View* res) {
  const Node& n = g.nodes[p];
  View w = in;
  if (double f = ScalarFactor(g, p, out)) {
    w.scale *= f;
    *res = w;
    return true;
  }
  if (n.edge && n.etype == fb::OpType::Reshape) return ReshapeView(in, g.shape(out), res);
  if (n.edge && n.etype == fb::OpType::Transpose) {
    if (n.ea.perm.size() != in.shape.size()) return false;
    for (int d : n.ea.perm)
      if (d < 0 || d >= static_cast<int>(in.shape.size())) return false;
    for (size_t k = 0; k < n.ea.perm.size(); ++k) {
      w.shape[k] = in.shape[n.ea.perm[k]];
      w.strides[k] = in.strides[n.ea.perm[k]];
    }
    *res = w;
    return true;
  }
  if (!n.edge && n.op == "Split") {
    int axis = NormalizeAxis(n.AttrInt("axis", 0), static_cast<int>(in.shape.size()));
    int64_t start = 0;
    // Every output up to this one must have the input's rank (an absent
    // optional output has none: its extent is unknown).
    for (int o : n.out) {
      if (g.rank(o) != static_cast<int>(in.shape.size())) return false;
      if (o == out) break;
      start += g.shape(o)[axis];
    }
    w.offset += start * in.strides[axis];
    w.shape[axis] = g.shape(out)[axis];
    *res = w;
    return true;
  }
  if (!n.edge && n.op == "Slice") {
    auto st = n.attrs.find("_starts"), sp = n.attrs.find("_steps");
    if (st == n.attrs.end() || sp == n.attrs.end() || st->second.ints.size() < in.shape.size() ||
        sp->second.ints.size() < in.shape.size() || g.rank(out) != static_cast<int>(in.shape.size()))
      return false;
    for (size_t a = 0; a < in.shape.size(); ++a) {
      w.offset += st->second.ints[a] * in.strides[a];
      w.strides[a] *= sp->second.ints[a];
    }
    w.shape = g.shape(out);
    *res = w;
    return true;
  }
  if (!n.edge && n.op == "Gather") {
    const Tensor* idx = g.Const(In(n, 1));
    if (!idx || idx->is_float() || idx->numel() != 1 || idx->i.size() != 1 || in.shape.empty()) return false;
    int axis = NormalizeAxis(n.AttrInt("axis", 0), static_cast<int>(in.shape.size()));
    int64_t i = idx->i[0] < 0 ? idx->i[0] + in.shape[axis] : idx->i[0];
    if (i < 0 || i >= in.shape[axis]) return false;
    w.offset += i * in.strides[axis];
    if (idx->shape.empty()) {
      w.shape.erase(w.shape.begin() + axis);
      w.strides.erase(w.strides.begin() + axis);
    } else {
      w.shape[axis] = 1;
    }
    *res = w;
    return true;
  }
  return false;
}

bool IsViewOp(Graph& g, int p, int out) {
  if (p < 0 || g.nodes[p].dead || !HasArity(g.nodes[p], 1) || g.rank(In(g.nodes[p], 0)) < 0) return false;
  if (ScalarFactor(g, p, out) != 0) return true;
  const Node& n = g.nodes[p];
  if (n.edge) return n.etype == fb::OpType::Reshape || n.etype == fb::OpType::Transpose;
  if (n.op == "Split" || n.op == "Slice") return true;
  const Tensor* idx = g.Const(In(n, 1));
  return n.op == "Gather" && idx && idx->numel() == 1 && !g.IsConst(n.in[0]);
}

// v as a strided view of the furthest tensor reachable through view ops.
View Trace(Graph& g, int v) {
  std::vector<std::pair<int, int>> chain;  // (node, output value), outermost first
  int cur = v;
  for (int depth = 0; depth < 16; ++depth) {
    int p = g.Producer(cur);
    if (!IsViewOp(g, p, cur)) break;
    chain.push_back({p, cur});
    cur = g.nodes[p].in[0];
  }
  View w = Contiguous(g, cur);
  for (int k = static_cast<int>(chain.size()) - 1; k >= 0; --k) {
    View nw;
    if (!Step(g, chain[k].first, chain[k].second, w, &nw)) {
      double s = w.scale;
      nw = Contiguous(g, chain[k].second);
      nw.scale = s;
    }
    w = nw;
  }
  return w;
}

// A [B, H, N, dh] view that is columns [c0, c0 + H*dh) of the source seen as [B, N, C].
struct Bshd {
  double scale = 1.0;
  int src = -1;
  int64_t B = 0, H = 0, N = 0, dh = 0, C = 0, c0 = 0;
};

bool AsBshd(Graph& g, const View& w, Bshd* out) {
  if (w.shape.size() != 4 || w.strides.size() != 4 || g.rank(w.src) < 1) return false;
  int64_t B = w.shape[0], H = w.shape[1], N = w.shape[2], dh = w.shape[3];
  const int64_t *st = w.strides.data();
  if (N < 2 || B < 1 || H < 1 || dh < 1) return false;
  int64_t C = st[2];
  if (dh > 1 && st[3] != 1) return false;
  if (H > 1 && st[1] != dh) return false;
  if (B > 1 && st[0] != N * C) return false;
  if (w.offset < 0 || w.offset + H * dh > C) return false;
  if (NumElements(g.shape(w.src)) != B * N * C) return false;
  if (g.shape(w.src).back() != C && NumElements(g.shape(w.src)) / (B * N) != C) return false;
  out->src = w.src;
  out->B = B;
  out->H = H;
  out->N = N;
  out->dh = dh;
  out->C = C;
  out->c0 = w.offset;
  out->scale = w.scale;
  return true;
}

class AttentionFuser {
 public:
  explicit AttentionFuser(Graph& g) : g_(g) {}
  void Run();

 private:
  bool TryAt(int sm);
  int Materialize(const Bshd& b, int before, const std::string& name);
  // Plans q/k/v in BSHD, including pushing a BHSD RoPE down to BSHD.
  struct Plan {
    bool ok = false;
    Bshd b;
    int rope = -1;
  };
  Plan PlanBshd(const View& w);
  int Execute(const Plan& p, int before, const std::string& name);

  Graph& g_;
  std::map<std::pair<int, int64_t>, int> slices_;  // (source, c0) -> materialized value

 public:
  struct Part {
    int out, src;
    int64_t c0;
  };
  std::vector<Part> parts;  // projections split into column ranges
};

// Walks back through single-use Mul/Div by scalar constants.
int StripScale(Graph& g, int v, double* scale, std::set<int>* nodes) {
  for (;;) {
    int p = g.Producer(v);
    if (p < 0 || g.nodes[p].edge || SoleUser(g, v) < 0 || !HasArity(g.nodes[p], 2)) return v;
    const Node& n = g.nodes[p];
    double c;
    if (n.op == "Mul") {
      if (ScalarConst(g, n.in[1], &c)) { *scale *= c; nodes->insert(p); v = n.in[0]; continue; }
      if (ScalarConst(g, n.in[0], &c)) { *scale *= c; nodes->insert(p); v = n.in[1]; continue; }
    } else if (n.op == "Div" && ScalarConst(g, n.in[1], &c) && c != 0) {
      *scale /= c;
      nodes->insert(p);
      v = n.in[0];
      continue;
    }
    return v;
  }
}

AttentionFuser::Plan AttentionFuser::PlanBshd(const View& w) {
  Plan p;
  if (AsBshd(g_, w, &p.b)) {
    p.ok = true;
    return p;
  }
  // RoPE applied on [B, H, N, dh]: move it to the tokens-major tensor.
  if (w.offset != 0 || w.shape != g_.shape(w.src)) return p;
  View c = Contiguous(g_, w.src);
  if (c.strides != w.strides) return p;
  int r = ProducerEdge(g_, w.src, fb::OpType::RoPE);
  if (r < 0 || g_.nodes[r].ea.layout != fb::TensorLayout::BHSD || SoleUser(g_, w.src) < 0) return p;
  Plan inner;
  if (!AsBshd(g_, Trace(g_, g_.nodes[r].in[0]), &inner.b)) return p;
  inner.ok = true;
  inner.rope = r;
  inner.b.scale *= w.scale;
  return inner;
}

int AttentionFuser::Materialize(const Bshd& b, int before, const std::string& name) {
  int64_t len = b.H * b.dh;
  auto key = std::make_pair(b.src, b.c0 * 1000003 + len);
  auto it = slices_.find(key);
  if (it != slices_.end()) return it->second;
  Shape want = {b.B, b.N, len};
  int res;
  if (len == b.C) {
    res = ReshapeTo(g_, b.src, want, before, name + "/view");
  } else {
    int lin = ProducerEdge(g_, b.src, fb::OpType::Linear);
    const Node* ln = lin >= 0 ? &g_.nodes[lin] : nullptr;
    const Tensor* wt = ln ? g_.Const(In(*ln, 1)) : nullptr;
    const Tensor* bt = ln ? g_.Const(In(*ln, 2)) : nullptr;
    bool bias_ok = !ln || In(*ln, 2) < 0 || (bt && bt->is_float() && bt->numel() >= b.c0 + len);
    if (ln && ln->ea.activation == fb::Activation::None && g_.shape(b.src).back() == b.C && wt &&
        wt->is_float() && wt->shape.size() == 2 && wt->shape[0] >= b.c0 + len &&
        static_cast<int64_t>(wt->f.size()) == wt->numel() && bias_ok) {
      // Split the projection: rows [c0, c0+len) of W[N, K] and of the bias.
      const Tensor& w = *wt;
      int64_t k = w.shape[1];
      std::vector<float> ws(w.f.begin() + b.c0 * k, w.f.begin() + (b.c0 + len) * k);
      int wv = NewConstF32(g_, g_.values[ln->in[1]].name + "/part", {len, k}, ws);
      int bv = -1;
      if (In(*ln, 2) >= 0) {
        const Tensor& bias = *bt;
        bv = NewConstF32(g_, g_.values[ln->in[2]].name + "/part", {len},
                         std::vector<float>(bias.f.begin() + b.c0, bias.f.begin() + b.c0 + len));
      }
      Shape os = g_.shape(b.src);
      os.back() = len;
      int x = ln->in[0];
      std::string lname = ln->name + "/" + std::to_string(b.c0);
      int out = NewValue(g_, g_.values[b.src].name + "/part", kFloat, os);
      AddEdge(g_, fb::OpType::Linear, lname, {x, wv, bv}, {out}, OpAttrs(), lin);
      parts.push_back({out, b.src, b.c0});
      res = ReshapeTo(g_, out, want, before, name + "/view");
    } else {
      int s3 = ReshapeTo(g_, b.src, {b.B, b.N, b.C}, before, name + "/rows");
      OpAttrs a;
      a.starts = {0, 0, b.c0};
      a.steps = {1, 1, 1};
      res = NewValue(g_, g_.values[b.src].name + "/cols", kFloat, want);
      AddEdge(g_, fb::OpType::Slice, name + "/slice", {s3}, {res}, a, before);
    }
  }
  slices_[key] = res;
  return res;
}

int AttentionFuser::Execute(const Plan& p, int before, const std::string& name) {
  int x = Materialize(p.b, before, name);
  if (p.rope < 0) return x;
  Node rope = g_.nodes[p.rope];
  OpAttrs a = rope.ea;
  a.layout = fb::TensorLayout::BSHD;
  a.num_heads = static_cast<int>(p.b.H);
  int out = NewValue(g_, g_.values[rope.out[0]].name + "/bshd", kFloat, g_.shape(x));
  AddEdge(g_, fb::OpType::RoPE, rope.name, {x, rope.in[1], rope.in[2]}, {out}, a, before);
  return out;
}

bool AttentionFuser::TryAt(int sm) {
  const Node smn = g_.nodes[sm];
  if (!HasArity(smn, 1)) return false;
  int r = g_.rank(smn.in[0]);
  if (r != 3 && r != 4) return false;
  if (NormalizeAxis(smn.AttrInt("axis", -1), r) != r - 1) return false;
  double scale = 1.0;
  std::set<int> nodes = {sm};
  int scores = StripScale(g_, smn.in[0], &scale, &nodes);
  int mm1 = ProducerOp(g_, scores, "MatMul");
  if (mm1 < 0 || SoleUser(g_, scores) < 0) return false;
  nodes.insert(mm1);
  int q = StripScale(g_, g_.nodes[mm1].in[0], &scale, &nodes);
  int kt = StripScale(g_, g_.nodes[mm1].in[1], &scale, &nodes);
  int mm2 = SoleUser(g_, smn.out[0]);
  if (mm2 < 0) return false;
  const Node mm2n = g_.nodes[mm2];
  if (mm2n.edge || mm2n.op != "MatMul" || !HasArity(mm2n, 2) || mm2n.in[0] != smn.out[0]) return false;
  nodes.insert(mm2);
  int v = mm2n.in[1];
  // Copies: the rewrites below add values, which can move g_.values.
  const Shape qs = g_.shape(q), ks = g_.shape(kt), vs = g_.shape(v);
  if (g_.rank(q) != r || g_.rank(kt) != r || g_.rank(v) != r || g_.IsConst(q) || g_.IsConst(kt) || g_.IsConst(v))
    return false;
  for (int d = 0; d < r - 2; ++d)
    if (qs[d] != ks[d] || qs[d] != vs[d]) return false;
  int64_t dh = qs[r - 1], M = ks[r - 1];
  if (ks[r - 2] != dh || vs[r - 2] != M || vs[r - 1] != dh) return false;
  for (int n : nodes)
    for (int o : g_.nodes[n].out)
      if (n != mm2 && !OnlyUsedBy(g_, o, nodes)) return false;
  std::string name = mm2n.name;
  int out = mm2n.out[0];
  OpAttrs a;
  a.scale = static_cast<float>(scale);

  if (r == 4) {
    // BSHD when all operands and the output are tokens-major column ranges.
    View kv = Trace(g_, kt);
    Plan pq, pk, pv;
    if (kv.shape.size() == 4 && kv.strides.size() == 4) {
      std::swap(kv.shape[2], kv.shape[3]);
      std::swap(kv.strides[2], kv.strides[3]);
      pq = PlanBshd(Trace(g_, q));
      pk = PlanBshd(kv);
      pv = PlanBshd(Trace(g_, v));
    }
    int tr = SoleUser(g_, out);
    bool out_ok = tr >= 0 && HasArity(g_.nodes[tr], 1) && g_.nodes[tr].edge &&
                  g_.nodes[tr].etype == fb::OpType::Transpose &&
                  g_.nodes[tr].ea.perm == std::vector<int>({0, 2, 1, 3});
    // A factor on v scales the output, not the scores: not absorbable.
    if (pq.ok && pk.ok && pv.ok && out_ok && pv.b.scale == 1.0 && pq.b.H == qs[1] && pk.b.H == qs[1] && pv.b.H == qs[1]) {
      int qb = Execute(pq, mm2, name + "/q");
      int kb = Execute(pk, mm2, name + "/k");
      int vb = Execute(pv, mm2, name + "/v");
      a.num_heads = static_cast<int>(qs[1]);
      a.layout = fb::TensorLayout::BSHD;
      a.scale = static_cast<float>(scale * pq.b.scale * pk.b.scale);
      int ob = NewValue(g_, g_.values[out].name + "/bshd", kFloat, {qs[0], qs[2], qs[1] * dh});
      int t_out = g_.nodes[tr].out[0];
      AddEdge(g_, fb::OpType::Attention, name, {qb, kb, vb}, {ob}, a, mm2);
      for (int n : nodes) g_.nodes[n].dead = true;
      g_.nodes[tr].dead = true;
      AddEdge(g_, fb::OpType::Reshape, name + "/heads", {ob}, {t_out}, OpAttrs(), tr);
      g_.Touch();
      return true;
    }
  }
  // BHSD on [B, H, N, dh] (3-D [X, N, dh] operands are viewed as [1, X, N, dh]).
  int kk = kt;
  {
    std::vector<int> perm;
    for (int d = 0; d < r; ++d) perm.push_back(d);
    std::swap(perm[r - 1], perm[r - 2]);
    int p = ProducerEdge(g_, kt, fb::OpType::Transpose);
    int src = kt;
    if (p >= 0 && g_.nodes[p].ea.perm.size() == static_cast<size_t>(r)) {
      std::vector<int> composed;
      for (int x : perm) composed.push_back(g_.nodes[p].ea.perm[x]);
      perm = composed;
      src = g_.nodes[p].in[0];
    }
    bool ident = true;
    for (int d = 0; d < r; ++d) ident = ident && perm[d] == d;
    if (ident) {
      kk = src;
    } else {
      Shape s = g_.shape(kt);
      std::swap(s[r - 1], s[r - 2]);
      kk = NewValue(g_, g_.values[kt].name + "/k", kFloat, s);
      OpAttrs ta;
      ta.perm = perm;
      AddEdge(g_, fb::OpType::Transpose, name + "/k", {src}, {kk}, ta, mm2);
    }
  }
  int qq = q, vv = v, oo = out;
  Shape os = g_.shape(out);
  if (r == 3) {
    qq = ReshapeTo(g_, q, {1, qs[0], qs[1], dh}, mm2, name + "/q4");
    kk = ReshapeTo(g_, kk, {1, qs[0], M, dh}, mm2, name + "/k4");
    vv = ReshapeTo(g_, v, {1, qs[0], M, dh}, mm2, name + "/v4");
    oo = NewValue(g_, g_.values[out].name + "/4d", kFloat, {1, os[0], os[1], os[2]});
  }
  a.num_heads = static_cast<int>(r == 4 ? qs[1] : qs[0]);
  a.layout = fb::TensorLayout::BHSD;
  for (int n : nodes) g_.nodes[n].dead = true;
  AddEdge(g_, fb::OpType::Attention, name, {qq, kk, vv}, {oo}, a, mm2);
  if (r == 3) AddEdge(g_, fb::OpType::Reshape, name + "/3d", {oo}, {out}, OpAttrs(), mm2);
  g_.Touch();
  return true;
}

void AttentionFuser::Run() {
  size_t n = g_.nodes.size();
  for (size_t k = 0; k < n; ++k) {
    const Node& s = g_.nodes[k];
    if (s.dead || s.edge || s.op != "Softmax" || !HasArity(s, 1)) continue;
    TryAt(static_cast<int>(k));
  }
}

}  // namespace

void FuseAttention(Graph& g) {
  AttentionFuser f(g);
  f.Run();
  g.RemoveDeadCode();
  g.Compact();
  // A projection still needed whole (e.g. one part feeds a per-head norm) is
  // computed once: its split-off parts become column slices of it.
  for (const AttentionFuser::Part& p : f.parts) {
    int whole = g.Producer(p.src), part = g.Producer(p.out);
    if (whole < 0 || part < 0) continue;
    Node& n = g.nodes[part];
    int r = g.rank(p.src);
    n.etype = fb::OpType::Slice;
    n.op = EdgeOpName(n.etype);
    n.in = {p.src};
    n.ea = OpAttrs();
    n.ea.starts.assign(r, 0);
    n.ea.steps.assign(r, 1);
    n.ea.starts[r - 1] = p.c0;
    n.pos = g.nodes[whole].pos + 0.5;
    g.Touch();
  }
  g.Compact();
}

}  // namespace conv
}  // namespace edge
