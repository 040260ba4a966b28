// torch's dynamo exporter decomposes k.transpose(-2, -1) of a [B, H, S, D]
// tensor as Reshape to [B*H, S, D] -> Transpose(0, 2, 1) -> Reshape back to
// [B, H, D, S]. The attention fuser traces q/k/v through views, but the merged
// B*H axis is no strided view of a tokens-major projection, so the fused op
// fell back to BHSD with copies around it. The three ops are one 4-D
// Transpose of the original tensor; written so, the fuser sees through it.
#include "converter/passes.h"

namespace edge {
namespace conv {

void MergeBatchedTransposes(Graph& g) {
  size_t count = g.nodes.size();
  for (size_t k = 0; k < count; ++k) {
    const Node& t = g.nodes[k];
    if (t.dead || !t.edge || t.etype != fb::OpType::Transpose || !HasArity(t, 1)) continue;
    const std::vector<int> perm = t.ea.perm;
    int r1 = ProducerEdge(g, t.in[0], fb::OpType::Reshape);
    int r2 = SoleUser(g, t.out[0]);
    if (r1 < 0 || r2 < 0 || !g.nodes[r2].edge || g.nodes[r2].etype != fb::OpType::Reshape ||
        !HasArity(g.nodes[r2], 1))
      continue;
    int x = g.nodes[r1].in[0];
    const Shape xs = g.shape(x), ms = g.shape(t.in[0]), ts = g.shape(t.out[0]), ys = g.shape(g.nodes[r2].out[0]);
    size_t r = ms.size();
    if (r < 2 || perm.size() != r || perm[0] != 0 || xs.size() != r + 1 || ys.size() != r + 1) continue;
    // r1 merges exactly the two leading axes; r2 splits them back the same way.
    if (xs[0] * xs[1] != ms[0] || ys[0] != xs[0] || ys[1] != xs[1]) continue;
    bool same = true;
    for (size_t a = 1; a < r; ++a) same = same && xs[a + 1] == ms[a] && ys[a + 1] == ts[a];
    bool valid = true;
    for (int p : perm) valid = valid && p >= 0 && p < static_cast<int>(r);
    if (!same || !valid) continue;
    Node& out = g.nodes[r2];
    out.etype = fb::OpType::Transpose;
    out.op = EdgeOpName(out.etype);
    out.in = {x};
    out.ea = OpAttrs();
    out.ea.perm = {0, 1};
    for (size_t a = 1; a < r; ++a) out.ea.perm.push_back(perm[a] + 1);
    g.Touch();
  }
  g.RemoveDeadCode();
  g.Compact();
}

}  // namespace conv
}  // namespace edge
