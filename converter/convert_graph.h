// The graph half of edge-convert: input shapes, inference and folding, fusion,
// lowering, dead-code removal and cache regions, in the order the tool runs
// them. Shared by edge-convert and the tests that feed it hostile graphs (the
// mutation test, the ONNX fuzz target), so they exercise exactly the tool's
// passes. Errors throw ConvertError with the exit codes of ir.h.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "converter/ir.h"
#include "converter/regions.h"

namespace edge {
namespace conv {

std::vector<Region> PrepareGraph(Graph& g, const std::map<std::string, Shape>& input_shapes,
                                 const std::string& block_prefix, std::vector<std::string>* warnings);

}  // namespace conv
}  // namespace edge
