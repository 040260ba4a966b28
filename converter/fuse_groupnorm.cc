// GroupNorm epilogue: the per-channel affine that GroupNorm exports apply
// after the normalization (Mul by gamma[C, 1, 1], then Add of beta[C, 1, 1])
// and a SiLU after it (ResNet blocks of VAE decoders) become the GroupNorm's
// gamma / beta inputs and fused activation, so the tensor is read and written
// once instead of four times.
#include "converter/passes.h"

namespace edge {
namespace conv {
namespace {

// The constant c broadcast against y[N, C, ...] varies along axis 1 only,
// and the binary's output keeps y's shape: c's values, else null.
const Tensor* PerChannel(Graph& g, int c, int y, int out) {
  const Tensor* t = g.Const(c);
  const Shape ys = g.shape(y), cs = g.shape(c);
  if (t == nullptr || !t->is_float() || ys.size() < 2 || cs.size() > ys.size() || g.shape(out) != ys)
    return nullptr;
  const size_t lead = ys.size() - cs.size();
  for (size_t d = 0; d < cs.size(); ++d) {
    const size_t axis = lead + d;
    if (cs[d] != (axis == 1 ? ys[1] : 1)) return nullptr;
  }
  return lead <= 1 ? t : nullptr;
}

// Absorbs the sole user of GroupNorm k's output when it is part of the
// epilogue; false when there is nothing (more) to absorb.
bool AbsorbNext(Graph& g, int k) {
  Node& n = g.nodes[k];
  const int y = n.out[0];
  const int u = SoleUser(g, y);
  if (u < 0) return false;
  Node& m = g.nodes[u];
  if (m.dead || n.ea.activation != fb::Activation::None) return false;
  if (m.edge) {
    if (m.etype != fb::OpType::SiLU || !HasArity(m, 1)) return false;
    n.ea.activation = fb::Activation::SiLU;
  } else {
    const bool mul = m.op == "Mul", add = m.op == "Add";
    if ((!mul && !add) || !HasArity(m, 2) || n.in.size() != 3) return false;
    // Mul only onto a bare norm; Add onto a norm without a bias.
    if ((mul && (n.in[1] >= 0 || n.in[2] >= 0)) || (add && n.in[2] >= 0)) return false;
    const Tensor* t = PerChannel(g, OtherInput(m, y), y, m.out[0]);
    if (t == nullptr) return false;
    const int64_t c = g.shape(y)[1];
    n.in[mul ? 1 : 2] = NewConstF32(g, n.name + (mul ? "/gamma" : "/beta"), {c}, t->f);
  }
  // The GroupNorm now produces the epilogue op's output, at its place
  // (NewConstF32 adds a value, not a node: n and m stay valid).
  n.out[0] = m.out[0];
  n.pos = m.pos;
  m.dead = true;
  g.Touch();
  return true;
}

}  // namespace

void FuseGroupNorm(Graph& g) {
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    const Node& n = g.nodes[k];
    if (n.dead || !n.edge || n.etype != fb::OpType::GroupNorm || !HasArity(n, 1)) continue;
    while (AbsorbNext(g, static_cast<int>(k))) {
    }
  }
  g.RemoveDeadCode();
  g.Compact();
}

}  // namespace conv
}  // namespace edge
