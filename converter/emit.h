// Emits the lowered graph through ModelWriter: tensors are numbered in graph
// order (inputs, then each op's inputs and outputs), so output is deterministic.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "converter/ir.h"
#include "converter/quantize.h"
#include "converter/regions.h"

namespace edge {
namespace conv {

struct PipelineFlags {
  bool any = false;
  PipelineInfo info;
  std::map<std::string, std::string> roles;  // input name -> latent|timestep|condition
};

struct EmitResult {
  std::map<int, int> tensor_of;  // value id -> tensor index
  std::vector<int> tensor_values;  // tensor index -> value id
  int64_t parameters = 0;          // elements of float constants
  int64_t constant_bytes = 0;
  std::vector<int> op_of_node;     // node index -> op index in the file (-1: dead)
};

struct EmitOptions {
  // F32 constants read only as Linear weights are stored in the GEMM's layout
  // (WeightLayout PackedF32N16) so that the runtime uses them in place;
  // false keeps them row-major (packed at load, as older files).
  bool fp32_packed = true;
};

// `quant` (may be null): node index of a Linear or Conv2d -> its quantized weight, stored
// in place of the F32 weight (identical QuantWeight pointers share one tensor).
EmitResult Emit(Graph& g, const std::vector<Region>& regions, const PipelineFlags& pipe,
                const std::string& model_name, ModelWriter* w,
                const std::map<int, QuantWeightPtr>* quant = nullptr,
                const EmitOptions& options = EmitOptions());

}  // namespace conv
}  // namespace edge
