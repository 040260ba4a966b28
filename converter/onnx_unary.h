// The ONNX operators that compute one of the runtime's unary functions: the
// rows of ops/f32_activation.h's EDGE_F32_UNARY with an ONNX name. Folding
// (their double formula on constants), activation fusion (their value on probe
// points) and lowering (to the Unary op) all look them up here, so a function
// added to that table with its ONNX name is converted without edits here.
#pragma once

#include <string>

#include "ops/f32_activation.h"

namespace edge {
namespace conv {

// True, with *kind set, when ONNX op type `op` computes a row of EDGE_F32_UNARY.
bool OnnxUnary(const std::string& op, F32Unary* kind);

}  // namespace conv
}  // namespace edge
