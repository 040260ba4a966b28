#include "converter/onnx_unary.h"

namespace edge {
namespace conv {

bool OnnxUnary(const std::string& op, F32Unary* kind) {
#define EDGE_ONNX_ROW(e, name, onnx, formula) {onnx, F32Unary::e},
  static const struct {
    const char* onnx;
    F32Unary kind;
  } rows[] = {EDGE_F32_UNARY(EDGE_ONNX_ROW)};
#undef EDGE_ONNX_ROW
  for (const auto& r : rows)
    if (r.onnx[0] != '\0' && op == r.onnx) {
      *kind = r.kind;
      return true;
    }
  return false;
}

}  // namespace conv
}  // namespace edge
