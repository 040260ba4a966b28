#include "converter/convert_graph.h"

#include <algorithm>
#include <set>

#include "converter/fold.h"
#include "converter/passes.h"

namespace edge {
namespace conv {

std::vector<Region> PrepareGraph(Graph& g, const std::map<std::string, Shape>& input_shapes,
                                 const std::string& block_prefix, std::vector<std::string>* warnings) {
  BindInputShapes(g, input_shapes);
  std::vector<std::pair<int, std::string>> unsupported;
  InferAndFold(g, &unsupported);
  std::set<int> listed;
  for (const auto& u : unsupported) listed.insert(u.first);
  for (size_t k = 0; k < g.nodes.size(); ++k)
    if (!g.nodes[k].dead && !MayLower(g.nodes[k].op) && !listed.count(static_cast<int>(k)))
      unsupported.push_back({static_cast<int>(k), DescribeNode(g, g.nodes[k]) + " (no edge op for this op type)"});
  if (!unsupported.empty()) {
    std::sort(unsupported.begin(), unsupported.end());
    std::string msg = std::to_string(unsupported.size()) + " unsupported node(s):";
    for (const auto& u : unsupported) msg += "\n  " + u.second;
    Fail(kExitConvert, msg);
  }
  g.RemoveDeadCode();
  g.Compact();
  Canonicalize(g);
  FuseActivations(g);
  FuseNorms(g);
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
