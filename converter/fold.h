// Static shape inference and constant folding: one walk over the graph in
// order. Every node gets output shapes/dtypes; a node whose inputs are all
// constant (or that only needs shapes, like Shape) is evaluated here and
// removed, which folds the shape arithmetic the PyTorch exporter emits.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "converter/ir.h"

namespace edge {
namespace conv {

// Fixes dynamic input dims from `--input NAME:SHAPE` (exact shapes), then infers
// and folds. Nodes of unknown op type (or with unsupported forms) are appended to
// `unsupported` as (node index, "OpType 'name' inputs [..]"); their outputs stay unknown.
void BindInputShapes(Graph& g, const std::map<std::string, Shape>& shapes);
void InferAndFold(Graph& g, std::vector<std::pair<int, std::string>>* unsupported);  // (node, text)

// Re-infers one node's output shapes (used by passes that build new ONNX-style
// nodes); throws on failure.
void InferNode(Graph& g, int node_index);

// Helpers shared with the passes.
std::vector<int64_t> ConstInts(const Graph& g, int v);
Shape BroadcastShapes(const Shape& a, const Shape& b, bool* ok);
std::string DescribeNode(const Graph& g, const Node& n);

}  // namespace conv
}  // namespace edge
