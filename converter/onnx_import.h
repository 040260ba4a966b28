// Reads an ONNX model (protobuf) into the converter IR, resolving external
// data relative to the model file. Errors throw ConvertError(kExitBadModel).
#pragma once

#include <string>

#include "converter/ir.h"

namespace edge {
namespace conv {

Graph ImportOnnx(const std::string& path);

}  // namespace conv
}  // namespace edge
