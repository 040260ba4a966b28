// Cache regions: the repeated transformer blocks on the residual stream,
// found from the node names the PyTorch exporter writes ("/blocks.3/attn/...")
// and verified structurally (one residual input, one output).
#pragma once

#include <string>
#include <vector>

#include "converter/ir.h"

namespace edge {
namespace conv {

struct Region {
  std::string name;
  int first_op = 0, last_op = 0;
  int input = -1, output = -1;  // value ids
};

// `prefix`: module-list name ("blocks") or empty to auto-detect. May reorder
// nodes that do not depend on a block's input out of the block (e.g. a
// conditioning activation the exporter shared between blocks). Notes about
// skipped blocks go to `warnings`.
std::vector<Region> FindCacheRegions(Graph& g, const std::string& prefix, std::vector<std::string>* warnings);

}  // namespace conv
}  // namespace edge
