// Activation fusion by evaluation: any subgraph of elementwise ops with scalar
// constants that maps one tensor x to y is evaluated on probe points and
// compared with GELU (erf and tanh forms) and SiLU. This recognizes every
// algebraic spelling exporters use (x*0.5*(1+erf(x/sqrt2)), 0.5*x*(1+tanh(..)),
// x*sigmoid(x), ...) without one matcher per spelling.
#include <cmath>
#include <map>

#include "converter/onnx_unary.h"
#include "converter/passes.h"

namespace edge {
namespace conv {
namespace {

bool IsElementwise(const Node& n) {
  // Eval reads in[0] (and in[1] of binary ops): only nodes that have them.
  if (n.dead || n.edge || !HasArity(n, MinInputs(n))) return false;
  static const char* k[] = {"Add", "Sub", "Mul", "Div", "Pow"};
  for (const char* s : k)
    if (n.op == s) return true;
  F32Unary kind;
  return OnnxUnary(n.op, &kind);
}

// Collects the cone of y's producer down to x; false if it reads anything but
// x and scalar constants.
bool Cone(Graph& g, int v, int x, std::set<int>* nodes, int depth) {
  if (v == x) return true;
  double c;
  if (ScalarConst(g, v, &c)) return true;
  if (depth > 12) return false;
  int p = g.Producer(v);
  if (p < 0 || !IsElementwise(g.nodes[p])) return false;
  if (nodes->count(p)) return true;
  nodes->insert(p);
  if (nodes->size() > 16) return false;
  for (int i : g.nodes[p].in)
    if (!Cone(g, i, x, nodes, depth + 1)) return false;
  return true;
}

double Eval(Graph& g, int v, int x, double xv, std::map<int, double>* memo) {
  if (v == x) return xv;
  double c;
  if (ScalarConst(g, v, &c)) return c;
  auto it = memo->find(v);
  if (it != memo->end()) return it->second;
  const Node& n = g.nodes[g.Producer(v)];
  double a = Eval(g, n.in[0], x, xv, memo);
  double b = n.in.size() > 1 ? Eval(g, n.in[1], x, xv, memo) : 0;
  double r = 0;
  const std::string& op = n.op;
  F32Unary kind;
  // Float arithmetic, as the model computes it.
  float fa = static_cast<float>(a), fb = static_cast<float>(b);
  if (op == "Add") r = fa + fb;
  else if (op == "Sub") r = fa - fb;
  else if (op == "Mul") r = fa * fb;
  else if (op == "Div") r = fa / fb;
  else if (op == "Pow") r = std::pow(fa, fb);
  else if (OnnxUnary(op, &kind)) r = static_cast<float>(F32UnaryEval(kind, fa));  // rounded as a kernel rounds
  (*memo)[v] = r;
  return r;
}

// The activation that y computes of x, compared with the runtime's reference
// formulas (ops/f32_activation.h): kGelu, kGeluTanh or kSilu, else kCount.
F32Unary Classify(Graph& g, int y, int x) {
  static const double probes[] = {-7, -4, -2.5, -1.3, -0.6, -0.11, 0, 0.04, 0.5, 1.1, 1.7, 2.9, 5, 9};
  for (F32Unary k : {F32Unary::kGelu, F32Unary::kGeluTanh, F32Unary::kSilu}) {
    bool ok = true;
    for (double p : probes) {
      std::map<int, double> memo;
      double got = Eval(g, y, x, p, &memo);
      double want = F32UnaryEval(k, p);
      if (!(std::fabs(got - want) <= 2e-6 + 2e-5 * std::fabs(want))) { ok = false; break; }
    }
    if (ok) return k;
  }
  return F32Unary::kCount;
}

}  // namespace

void FuseActivations(Graph& g) {
  for (int k = static_cast<int>(g.nodes.size()) - 1; k >= 0; --k) {
    if (!IsElementwise(g.nodes[k]) || g.nodes[k].dead) continue;
    int y = g.nodes[k].out[0];
    if (!IsFloatType(g.values[y].dtype)) continue;
    // Candidate x: non-constant values reachable backwards through elementwise ops.
    std::set<int> seen;
    std::vector<int> stack = g.nodes[k].in, cands;
    while (!stack.empty() && cands.size() < 32) {
      int v = stack.back();
      stack.pop_back();
      if (v < 0 || g.IsConst(v) || seen.count(v)) continue;
      seen.insert(v);
      cands.push_back(v);
      int p = g.Producer(v);
      if (p >= 0 && IsElementwise(g.nodes[p])) stack.insert(stack.end(), g.nodes[p].in.begin(), g.nodes[p].in.end());
    }
    for (int x : cands) {
      if (g.shape(x) != g.shape(y)) continue;
      std::set<int> cone;
      if (!Cone(g, y, x, &cone, 0) || cone.size() < 2) continue;
      bool closed = true;
      for (int n : cone)
        for (int o : g.nodes[n].out)
          if (o != y && !OnlyUsedBy(g, o, cone)) closed = false;
      bool reads_x = false;
      for (int n : cone)
        for (int i : g.nodes[n].in) reads_x = reads_x || i == x;
      if (!closed || !reads_x) continue;
      F32Unary kind = Classify(g, y, x);
      if (kind == F32Unary::kCount) continue;
      OpAttrs a;
      a.approximate_tanh = kind == F32Unary::kGeluTanh;
      ReplaceWithEdge(g, cone, k, kind == F32Unary::kSilu ? fb::OpType::SiLU : fb::OpType::Gelu, {x}, a);
      break;
    }
  }
  g.Compact();
}

void FuseLinearActivation(Graph& g) {
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    Node& n = g.nodes[k];
    if (n.dead || !n.edge || (n.etype != fb::OpType::Gelu && n.etype != fb::OpType::SiLU) || !HasArity(n, 1))
      continue;
    int lin = ProducerEdge(g, n.in[0], fb::OpType::Linear);
    if (lin < 0 || g.nodes[lin].ea.activation != fb::Activation::None) continue;
    if (!OnlyUsedBy(g, n.in[0], {static_cast<int>(k)})) continue;
    Node& l = g.nodes[lin];
    l.ea.activation = n.etype == fb::OpType::SiLU ? fb::Activation::SiLU
                      : n.ea.approximate_tanh        ? fb::Activation::GeluTanh
                                                     : fb::Activation::Gelu;
    // The Linear now produces the activation's output, at the activation's place.
    l.out[0] = n.out[0];
    l.pos = n.pos;
    n.dead = true;
    g.Touch();
  }
  g.Compact();
}

}  // namespace conv
}  // namespace edge
