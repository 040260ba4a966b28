// Validation of untrusted model bytes.
//
// ValidateModel() is the only code that reads a model file before it is
// trusted. It runs the FlatBuffers verifier, then checks every index, size,
// shape, dtype and the graph order, and only then builds the TensorInfo /
// NodeInfo views the rest of the runtime relies on. Each failure is a
// kInvalidModel Status whose message names the offending field.
#pragma once

#include <cstddef>
#include <cstdint>
#include "runtime/array.h"
#include "runtime/model.h"
#include "runtime/status.h"

namespace edge {

// What a successful validation produces; Model takes these over.
struct ValidatedGraph {
  const char* name = "";
  Array<TensorInfo> tensors;
  Array<NodeInfo> nodes;
  Array<int> inputs;
  Array<int> outputs;
  Array<CacheRegionInfo> regions;
};

struct ValidatedModel {
  const fb::Model* fb = nullptr;
  ValidatedGraph main;           // graph 0
  Array<ValidatedGraph> extra;   // graphs 1.. (format 2)
  Array<GraphLinkInfo> links;
};

// `data` must be 64-byte aligned (so that constants are aligned in place) and
// `size` bytes long. Nothing outside [data, data + size) is ever read.
Status ValidateModel(const uint8_t* data, size_t size, ValidatedModel* out);

// Byte offset of the data segment in a file whose size prefix is `fb_size`.
inline uint64_t DataSegmentOffset(uint64_t fb_size) {
  return (uint64_t(4) + fb_size + (kDataAlignment - 1)) & ~uint64_t(kDataAlignment - 1);
}

// Bytes a constant of this dtype/layout/shape occupies in its buffer. RowMajor
// is StorageBytes(); a packed layout is its weight format's packed size
// (ops/quant_format.h: N padded to 16, K to 4 for int8 and to 16 for NVFP4).
// Returns false on overflow, an unknown dtype or a layout that does not fit
// the dtype/rank.
bool ConstantStorageBytes(fb::DType dtype, fb::WeightLayout layout, const int64_t* dims,
                          int rank, size_t* bytes);

// Bytes of the scale buffer a quantized [N, ...K] weight needs, from its
// weight format (ops/quant_format.h): N floats for Int8PerChannel,
// rows * ceil(K / 16) E4M3 bytes for NVFP4 (padded with the panels when
// packed). block_size must be the format's block.
bool QuantScaleBytes(fb::QuantScheme scheme, fb::WeightLayout layout, const int64_t* dims, int rank,
                     int block_size,
                     size_t* bytes);

}  // namespace edge
