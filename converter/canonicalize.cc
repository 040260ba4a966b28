// Canonical form for the fusion passes: identities removed; every view op
// (Reshape, Squeeze, Unsqueeze, Flatten) becomes an edge Reshape whose target
// is its static output shape; Transposes become edge Transposes; chains of
// either are composed; ONNX ops with a direct edge equivalent (Gelu,
// LayerNormalization) are mapped.
#include <algorithm>

#include "converter/passes.h"

namespace edge {
namespace conv {
namespace {

bool IsIdentity(Graph& g, const Node& n) {
  if (n.op == "Identity") return true;
  if (n.op == "Dropout") return n.out.size() < 2 || n.out[1] < 0 || g.Users(n.out[1]).empty();
  if (n.op == "Cast") return g.values[n.in[0]].dtype == g.values[n.out[0]].dtype;
  // x * 1 and x / 1 (diffusers' rescale_output_factor = 1.0); in[0] is what
  // the caller keeps, so only that operand order counts.
  double c;
  if ((n.op == "Mul" || n.op == "Div") && HasArity(n, 2) && ScalarConst(g, n.in[1], &c) && c == 1.0 &&
      !g.IsConst(n.in[0]) && g.shape(n.in[0]) == g.shape(n.out[0]) &&
      g.values[n.in[0]].dtype == g.values[n.out[0]].dtype)
    return true;
  return false;
}

void ToEdge(Node& n, fb::OpType t) {
  n.edge = true;
  n.etype = t;
  n.op = EdgeOpName(t);
}

}  // namespace

void Canonicalize(Graph& g) {
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    Node& n = g.nodes[k];
    // Every rewrite below reads in[0] and out[0].
    if (n.dead || n.edge || !HasArity(n, 1)) continue;
    if (IsIdentity(g, n)) {
      int in = n.in[0], out = n.out[0];
      n.dead = true;
      g.Touch();
      g.ReplaceUses(out, in);
      continue;
    }
    if (n.op == "Reshape" || n.op == "Squeeze" || n.op == "Unsqueeze" || n.op == "Flatten") {
      n.in.resize(1);
      n.attrs.clear();
      ToEdge(n, fb::OpType::Reshape);
    } else if (n.op == "Transpose") {
      std::vector<int64_t> p = n.AttrInts("perm");
      if (p.empty())
        for (int d = g.rank(n.in[0]) - 1; d >= 0; --d) p.push_back(d);
      for (int64_t& d : p)
        if (d < 0) d += g.rank(n.in[0]);  // inference accepted negative axes
      n.ea.perm.assign(p.begin(), p.end());
      n.attrs.clear();
      ToEdge(n, fb::OpType::Transpose);
    } else if (n.op == "Gelu") {
      n.ea.approximate_tanh = n.AttrString("approximate", "none") == "tanh";
      ToEdge(n, fb::OpType::Gelu);
    } else if (n.op == "LayerNormalization") {
      int r = g.rank(n.in[0]);
      if (NormalizeAxis(n.AttrInt("axis", -1), r) != r - 1) continue;  // lowered as unsupported
      bool extra = false;
      for (size_t o = 1; o < n.out.size(); ++o)
        if (n.out[o] >= 0 && !g.Users(n.out[o]).empty()) extra = true;
      if (extra) continue;
      n.out.resize(1);
      n.ea.epsilon = n.AttrFloat("epsilon", 1e-5f);
      // Drop an all-ones scale / all-zeros bias (what affine-free norms export).
      n.in.resize(3, -1);
      const Tensor* s = g.Const(n.in[1]);
      const Tensor* b = g.Const(n.in[2]);
      bool ones = s && s->is_float() && std::all_of(s->f.begin(), s->f.end(), [](float v) { return v == 1.f; });
      bool zeros = !b || (b->is_float() && std::all_of(b->f.begin(), b->f.end(), [](float v) { return v == 0.f; }));
      if (ones && zeros) n.in = {n.in[0], -1, -1};
      else if (zeros) n.in = {n.in[0], n.in[1], -1};
      ToEdge(n, fb::OpType::LayerNorm);
    }
  }
  g.Touch();
  // Compose chains (inputs are earlier in order, so one forward sweep suffices).
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    Node& n = g.nodes[k];
    if (n.dead || !n.edge) continue;
    if (n.etype == fb::OpType::Reshape) {
      int p = ProducerEdge(g, n.in[0], fb::OpType::Reshape);
      if (p >= 0) n.in[0] = g.nodes[p].in[0];
      if (g.shape(n.in[0]) == g.shape(n.out[0])) {
        int in = n.in[0], out = n.out[0];
        n.dead = true;
        g.Touch();
        g.ReplaceUses(out, in);
      }
      g.Touch();
    } else if (n.etype == fb::OpType::Transpose) {
      int p = ProducerEdge(g, n.in[0], fb::OpType::Transpose);
      bool composable = p >= 0 && g.nodes[p].ea.perm.size() == n.ea.perm.size();
      for (int x : n.ea.perm) composable = composable && x >= 0 && x < static_cast<int>(n.ea.perm.size());
      if (composable) {
        // out[i] = mid[perm2[i]] = in[perm1[perm2[i]]]
        std::vector<int> composed;
        for (int x : n.ea.perm) composed.push_back(g.nodes[p].ea.perm[x]);
        n.ea.perm = composed;
        n.in[0] = g.nodes[p].in[0];
        g.Touch();
      }
      bool ident = true;
      for (size_t d = 0; d < n.ea.perm.size(); ++d) ident = ident && n.ea.perm[d] == static_cast<int>(d);
      if (ident) {
        int in = n.in[0], out = n.out[0];
        n.dead = true;
        g.Touch();
        g.ReplaceUses(out, in);
      }
    }
  }
  g.RemoveDeadCode();
  g.Compact();
}

}  // namespace conv
}  // namespace edge
