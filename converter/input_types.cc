#include "converter/input_types.h"

#include <set>

#include "converter/passes.h"

namespace edge {
namespace conv {
namespace {

bool IsIntType(int t) { return t == kInt64 || t == kInt32 || t == kInt16 || t == kInt8 || t == kUint8; }

bool IsViewOnly(const std::string& op) {
  return op == "Unsqueeze" || op == "Reshape" || op == "Squeeze" || op == "Flatten" || op == "Identity" ||
         op == "Expand";
}

// True when every path from v ends in a Cast to f32 after view ops only (and
// v reaches no graph output). Only input 0 of a view op carries the data: v
// used as a shape or axes operand is a use we cannot retype.
bool OnlyCastToFloat(Graph& g, int v, int depth, std::set<int>* seen) {
  if (depth > 8 || g.values[v].graph_output || !seen->insert(v).second) return false;
  const std::vector<int> users = g.Users(v);
  if (users.empty()) return false;
  for (int u : users) {
    const Node& n = g.nodes[u];
    if (n.dead) continue;
    for (size_t k = 1; k < n.in.size(); ++k)
      if (n.in[k] == v) return false;
    if (In(n, 0) != v || !n.domain.empty()) return false;
    if (n.op == "Cast") {
      if (n.AttrInt("to", 0) != kFloat) return false;
      continue;
    }
    if (!IsViewOnly(n.op) || Out(n, 0) < 0 || n.out.size() != 1) return false;
    if (!OnlyCastToFloat(g, n.out[0], depth + 1, seen)) return false;
  }
  return true;
}

}  // namespace

void FloatCastOnlyIntInputs(Graph& g, std::vector<std::string>* notes) {
  for (int i : g.inputs) {
    Value& v = g.values[i];
    if (!v.known || !IsIntType(v.dtype)) continue;
    std::set<int> seen;
    if (!OnlyCastToFloat(g, i, 0, &seen)) continue;
    std::string from = ElemTypeName(v.dtype);
    g.values[i].dtype = kFloat;
    if (notes)
      notes->push_back("input '" + g.values[i].name + "' is " + from +
                       " in the ONNX model and only cast to float: the edge model takes it as f32");
  }
  g.Touch();
}

}  // namespace conv
}  // namespace edge
