// Linear fusion: MatMul(x, W[K,N] constant) (+ bias[N]) and Gemm become Linear
// with the weight stored [N, K] like PyTorch (ONNX MatMul's initializer is the
// transpose).
#include <map>

#include "converter/passes.h"

namespace edge {
namespace conv {
namespace {

TensorPtr Transposed2d(const Tensor& w) {
  auto t = std::make_shared<Tensor>();
  t->dtype = kFloat;
  int64_t r = w.shape[0], c = w.shape[1];
  t->shape = {c, r};
  t->f.resize(r * c);
  for (int64_t i = 0; i < r; ++i)
    for (int64_t j = 0; j < c; ++j) t->f[j * r + i] = w.f[i * c + j];
  return t;
}

TensorPtr Scaled(const Tensor& w, float s) {
  auto t = std::make_shared<Tensor>(w);
  if (s != 1.f)
    for (float& v : t->f) v *= s;
  return t;
}

// A bias for N outputs: constant with N elements laid along the last axis.
bool BiasConst(Graph& g, int v, int64_t n) {
  const Tensor* t = g.Const(v);
  return t && t->is_float() && t->numel() == n && !t->shape.empty() && t->shape.back() == n;
}

int FlatBias(Graph& g, int v, float beta) {
  auto t = std::make_shared<Tensor>(*g.Const(v));
  t->shape = {t->numel()};
  if (beta != 1.f)
    for (float& x : t->f) x *= beta;
  return g.AddConstValue(g.FreshName(g.values[v].name), t);
}

}  // namespace

void FuseLinear(Graph& g) {
  std::map<int, int> transposed;  // one [N,K] copy per shared weight
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    Node& n = g.nodes[k];
    if (n.dead || n.edge) continue;
    if (!HasArity(n, 2)) continue;
    if (n.op == "MatMul") {
      const Tensor* w = g.Const(n.in[1]);
      if (!w || !w->is_float() || w->shape.size() != 2 || g.IsConst(n.in[0]) || g.rank(n.in[0]) < 2)
        continue;
      int64_t nout = w->shape[1];
      std::set<int> nodes = {static_cast<int>(k)};
      int sink = static_cast<int>(k);
      int bias = -1;
      int y = n.out[0];
      if (int u = SoleUser(g, y); u >= 0) {
        const Node& a = g.nodes[u];
        if (!a.edge && a.op == "Add" && HasArity(a, 2)) {
          int other = OtherInput(a, y);
          if (other >= 0 && BiasConst(g, other, nout) && g.shape(a.out[0]) == g.shape(y)) {
            bias = FlatBias(g, other, 1.f);
            nodes.insert(u);
            sink = u;
          }
        }
      }
      int src = n.in[1];
      if (!transposed.count(src))
        transposed[src] = g.AddConstValue(g.FreshName(g.values[src].name + "/t"), Transposed2d(*w));
      int wt = transposed[src];
      ReplaceWithEdge(g, nodes, sink, fb::OpType::Linear, {n.in[0], wt, bias}, OpAttrs());
    } else if (n.op == "Gemm") {
      const Tensor* w = g.Const(n.in[1]);
      if (!w || !w->is_float() || w->shape.size() != 2 || n.AttrInt("transA", 0) != 0 || g.IsConst(n.in[0]))
        continue;
      float alpha = n.AttrFloat("alpha", 1.f), beta = n.AttrFloat("beta", 1.f);
      TensorPtr wt = n.AttrInt("transB", 0) ? Scaled(*w, alpha) : Scaled(*Transposed2d(*w), alpha);
      int64_t nout = wt->shape[0];
      int bias = -1;
      if (n.in.size() > 2 && n.in[2] >= 0) {
        if (!BiasConst(g, n.in[2], nout)) continue;  // a full [M,N] C: left to lowering
        bias = FlatBias(g, n.in[2], beta);
      }
      int wv = g.AddConstValue(g.FreshName(g.values[n.in[1]].name + "/w"), wt);
      ReplaceWithEdge(g, {static_cast<int>(k)}, static_cast<int>(k), fb::OpType::Linear, {n.in[0], wv, bias},
                      OpAttrs());
    }
  }
  g.Compact();
}

}  // namespace conv
}  // namespace edge
