#include "converter/convert_graph.h"

#include <algorithm>
#include <set>

#include "converter/fold.h"
#include "converter/input_types.h"
#include "converter/passes.h"

namespace edge {
namespace conv {
namespace {

// Shape arithmetic downstream of an unsupported node stays uninferred: a
// Shape of an unknown value, and whatever computes only from such Shapes and
// constants (Equal, Where, Expand's target, ...). It would fold once its input
// is known, so listing it would bury the real cause among dozens of lines.
// Marks, in graph order, the values that are such shape arithmetic.
std::vector<char> PendingShapeValues(const Graph& g) {
  std::vector<char> shape_val(g.values.size(), 0);
  for (const Node& n : g.nodes) {
    if (n.dead) continue;
    bool is_shape = n.op == "Shape" || n.op == "Size";
    if (!is_shape) {
      bool any = false, all = true;
      for (int v : n.in) {
        if (v < 0 || g.values[v].c) continue;
        if (shape_val[v]) any = true;
        else all = false;
      }
      is_shape = any && all;
    }
    if (is_shape)
      for (int o : n.out)
        if (o >= 0 && !g.values[o].known) shape_val[o] = 1;
  }
  return shape_val;
}

bool FoldsOnceInferred(const Graph& g, const Node& n, const std::vector<char>& shape_val) {
  for (int o : n.out)
    if (o >= 0 && shape_val[o]) return true;
  return false;
}

}  // namespace

std::vector<Region> PrepareGraph(Graph& g, const std::map<std::string, Shape>& input_shapes,
                                 const std::string& block_prefix, std::vector<std::string>* warnings) {
  BindInputShapes(g, input_shapes);
  FloatCastOnlyIntInputs(g, warnings);
  std::vector<std::pair<int, std::string>> unsupported;
  InferAndFold(g, &unsupported);
  std::set<int> listed;
  const std::vector<char> pending = PendingShapeValues(g);
  for (const auto& u : unsupported) listed.insert(u.first);
  for (size_t k = 0; k < g.nodes.size(); ++k)
    if (!g.nodes[k].dead && !MayLower(g.nodes[k].op) && !listed.count(static_cast<int>(k)) &&
        !FoldsOnceInferred(g, g.nodes[k], pending) && PadForConvs(g, static_cast<int>(k)).empty())
      unsupported.push_back({static_cast<int>(k), DescribeNode(g, g.nodes[k]) + " (no edge op for this op type)"});
  if (!unsupported.empty()) {
    std::sort(unsupported.begin(), unsupported.end());
    std::string msg = std::to_string(unsupported.size()) + " unsupported node(s):";
    for (const auto& u : unsupported) msg += "\n  " + u.second;
    Fail(kExitConvert, msg);
  }
  g.RemoveDeadCode();
  g.Compact();
  RewriteOps(g);
  Canonicalize(g);
  MergeBatchedTransposes(g);
  PushConcatsThroughViews(g);
  FuseActivations(g);
  FuseNorms(g);
  FuseGroupNorm(g);
  FuseLinear(g);
  FuseDit(g);
  FuseAttention(g);
  Canonicalize(g);
  FuseLinearActivation(g);
  std::vector<std::string> bad = Lower(g);
  if (!bad.empty()) {
    std::string msg = std::to_string(bad.size()) + " unsupported node(s) (no edge op for these ops or patterns):";
    for (const std::string& u : bad) msg += "\n  " + u;
    Fail(kExitConvert, msg);
  }
  g.RemoveDeadCode();
  g.Compact();
  return FindCacheRegions(g, block_prefix, warnings);
}

}  // namespace conv
}  // namespace edge
