// Norm fusion: the decomposed LayerNorm the exporter writes below opset 17 (or
// that hand-written modules give) and RMSNorm in its usual spellings, each with
// an optional per-channel gain (and bias for LayerNorm).
//   LayerNorm: d = x - mean(x); y = d / sqrt(mean(d^2) + eps)   [or d * 1/sqrt(..)]
//   RMSNorm:   y = x * 1/sqrt(mean(x^2) + eps)  [or x / sqrt(..), x * rsqrt(..)]
#include <cmath>

#include "converter/passes.h"

namespace edge {
namespace conv {
namespace {

// v == x*x or x^2 (Pow with constant 2): returns x, or -1.
int SquareOf(Graph& g, int v, std::set<int>* nodes) {
  int p = ProducerOp(g, v, "Pow");
  double e;
  if (p >= 0 && ScalarConst(g, g.nodes[p].in[1], &e) && e == 2.0) {
    nodes->insert(p);
    return g.nodes[p].in[0];
  }
  p = ProducerOp(g, v, "Mul");
  if (p >= 0 && g.nodes[p].in[0] == g.nodes[p].in[1]) {
    nodes->insert(p);
    return g.nodes[p].in[0];
  }
  return -1;
}

// v == sqrt(mean(sq) + eps): returns sq's producer input (the squared value), eps.
int SqrtMeanPlusEps(Graph& g, int v, std::set<int>* nodes, double* eps) {
  int s = ProducerOp(g, v, "Sqrt");
  if (s < 0) return -1;
  int a = ProducerOp(g, g.nodes[s].in[0], "Add");
  if (a < 0) return -1;
  int m = -1;
  for (int side = 0; side < 2; ++side) {
    int mv = g.nodes[a].in[side], ev = g.nodes[a].in[1 - side];
    int mp = g.Producer(mv);
    if (IsLastAxisReduceMean(g, mp) && ScalarConst(g, ev, eps)) m = mp;
  }
  if (m < 0) return -1;
  nodes->insert(s);
  nodes->insert(a);
  nodes->insert(m);
  return g.nodes[m].in[0];
}

// v == 1/sqrt(mean(sq)+eps) written as Reciprocal(Sqrt) or Div(1, Sqrt); returns sq.
int InvSqrtMean(Graph& g, int v, std::set<int>* nodes, double* eps) {
  int r = ProducerOp(g, v, "Reciprocal");
  if (r >= 0) {
    nodes->insert(r);
    return SqrtMeanPlusEps(g, g.nodes[r].in[0], nodes, eps);
  }
  int d = ProducerOp(g, v, "Div");
  double one;
  if (d >= 0 && ScalarConst(g, g.nodes[d].in[0], &one) && one == 1.0) {
    nodes->insert(d);
    return SqrtMeanPlusEps(g, g.nodes[d].in[1], nodes, eps);
  }
  return -1;
}

// The normalized value n = num / sqrt(mean(sq)+eps): returns num and sq.
bool Normalized(Graph& g, int node, int* num, int* sq, std::set<int>* nodes, double* eps) {
  const Node& n = g.nodes[node];
  if (n.edge || n.dead || !HasArity(n, 2)) return false;
  if (n.op == "Div") {
    int s = SqrtMeanPlusEps(g, n.in[1], nodes, eps);
    if (s < 0) return false;
    *num = n.in[0];
    *sq = s;
    nodes->insert(node);
    return true;
  }
  if (n.op == "Mul") {
    for (int side = 0; side < 2; ++side) {
      std::set<int> tmp;
      int s = InvSqrtMean(g, n.in[side], &tmp, eps);
      if (s >= 0) {
        *num = n.in[1 - side];
        *sq = s;
        nodes->insert(tmp.begin(), tmp.end());
        nodes->insert(node);
        return true;
      }
    }
  }
  return false;
}

// A per-channel constant [D] (any leading 1 dims) for the last axis of size d.
bool ChannelConst(Graph& g, int v, int64_t d) {
  const Tensor* t = g.Const(v);
  if (!t || !t->is_float() || t->numel() != d) return false;
  return !t->shape.empty() && t->shape.back() == d;
}

int FlatConst(Graph& g, int v) {
  const Tensor* t = g.Const(v);
  if (t->shape.size() == 1) return v;
  auto c = std::make_shared<Tensor>(*t);
  c->shape = {t->numel()};
  return g.AddConstValue(g.FreshName(g.values[v].name), c);
}

// Absorbs `y * gamma` and then `+ beta` after the normalized value.
int AbsorbAffine(Graph& g, int y, std::set<int>* nodes, int* gamma, int* beta, bool allow_beta) {
  *gamma = *beta = -1;
  if (g.rank(y) < 1) return y;
  int64_t d = g.shape(y).back();
  if (int u = SoleUser(g, y); u >= 0) {
    const Node& m = g.nodes[u];
    if (!m.edge && m.op == "Mul" && HasArity(m, 2)) {
      int other = OtherInput(m, y);
      if (other >= 0 && ChannelConst(g, other, d) && g.shape(m.out[0]) == g.shape(y)) {
        *gamma = other;
        nodes->insert(u);
        y = m.out[0];
      }
    }
  }
  if (int u = allow_beta ? SoleUser(g, y) : -1; u >= 0) {
    const Node& a = g.nodes[u];
    if (!a.edge && a.op == "Add" && HasArity(a, 2)) {
      int other = OtherInput(a, y);
      if (other >= 0 && ChannelConst(g, other, d) && g.shape(a.out[0]) == g.shape(y)) {
        *beta = other;
        nodes->insert(u);
        y = a.out[0];
      }
    }
  }
  return y;
}

bool Closed(Graph& g, const std::set<int>& nodes, int out) {
  for (int n : nodes)
    for (int o : g.nodes[n].out)
      if (o != out && !OnlyUsedBy(g, o, nodes)) return false;
  return true;
}

void Emit(Graph& g, std::set<int> nodes, int y_norm, int x, fb::OpType t, double eps, bool allow_beta) {
  int gamma, beta;
  int y = AbsorbAffine(g, y_norm, &nodes, &gamma, &beta, allow_beta);
  if (!Closed(g, nodes, y)) return;
  int sink = g.Producer(y);
  std::vector<int> in = {x, gamma >= 0 ? FlatConst(g, gamma) : -1};
  if (t == fb::OpType::LayerNorm) {
    if (beta >= 0 && gamma < 0) {
      // beta without gamma: use explicit ones.
      in[1] = NewConstF32(g, g.values[x].name + "/ones", {g.shape(x).back()},
                          std::vector<float>(g.shape(x).back(), 1.f));
    }
    in.push_back(beta >= 0 ? FlatConst(g, beta) : -1);
  }
  OpAttrs a;
  a.epsilon = static_cast<float>(eps);
  ReplaceWithEdge(g, nodes, sink, t, in, a);
}

}  // namespace

void FuseNorms(Graph& g) {
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    if (g.nodes[k].dead || g.nodes[k].edge) continue;
    int num, sq;
    double eps;
    std::set<int> nodes;
    if (!Normalized(g, static_cast<int>(k), &num, &sq, &nodes, &eps)) continue;
    int y = g.nodes[k].out[0];
    if (g.shape(y) != g.shape(num) || g.rank(y) < 1) continue;
    std::set<int> sq_nodes;
    int base = SquareOf(g, sq, &sq_nodes);
    if (base < 0) continue;
    nodes.insert(sq_nodes.begin(), sq_nodes.end());
    if (base == num) {
      // LayerNorm if num = x - mean(x); otherwise RMSNorm of num.
      int sub = ProducerOp(g, num, "Sub");
      if (sub >= 0 && IsLastAxisReduceMean(g, g.Producer(g.nodes[sub].in[1])) &&
          g.nodes[g.Producer(g.nodes[sub].in[1])].in[0] == g.nodes[sub].in[0]) {
        std::set<int> ln = nodes;
        ln.insert(sub);
        ln.insert(g.Producer(g.nodes[sub].in[1]));
        Emit(g, ln, y, g.nodes[sub].in[0], fb::OpType::LayerNorm, eps, true);
      } else {
        Emit(g, nodes, y, num, fb::OpType::RMSNorm, eps, false);
      }
    }
  }
  g.Compact();
}

}  // namespace conv
}  // namespace edge
