// Reads an ONNX model (protobuf) into the converter IR, resolving external
// data relative to the model file. Errors throw ConvertError(kExitBadModel).
#pragma once

#include <cstddef>
#include <string>

#include "converter/ir.h"

namespace edge {
namespace conv {

Graph ImportOnnx(const std::string& path);
// The same from bytes held in memory (the fuzz and mutation tests); external
// data resolves relative to `model_dir`, `what` names the model in errors.
Graph ImportOnnxBytes(const void* data, size_t size, const std::string& model_dir, const std::string& what);

}  // namespace conv
}  // namespace edge
