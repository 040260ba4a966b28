// NumPy .npy files: what edge-run reads as inputs and writes as outputs.
//
// Supported: format versions 1.0 / 2.0 / 3.0 headers, little-endian '<f4',
// '<i4', '<i8' and 'u1' (any byte-order mark), C order. Anything else
// (fortran_order, big-endian, other dtypes, truncated or oversized data,
// absurd shapes) is an error, never a crash.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/status.h"
#include "schema/edge_model_generated.h"

namespace edge {

struct NpyArray {
  fb::DType dtype = fb::DType::F32;  // F32, I32, I64 or U8
  std::vector<int64_t> shape;        // empty: a scalar
  std::vector<uint8_t> data;         // little-endian, C order

  int64_t num_elements() const;
  // Typed views; the storage of std::vector is suitably aligned for these.
  const float* f32() const { return reinterpret_cast<const float*>(data.data()); }
  float* f32() { return reinterpret_cast<float*>(data.data()); }
};

// Parses a whole .npy image held in memory.
Result<NpyArray> ParseNpy(const uint8_t* bytes, size_t size);
Result<NpyArray> ReadNpy(const std::string& path);

// Serializes `data` (num_elements * element size bytes) as a .npy image;
// version 1.0 unless the header needs 2.0.
Status EncodeNpy(fb::DType dtype, const std::vector<int64_t>& shape, const void* data,
                 std::vector<uint8_t>* out);
Status WriteNpy(const std::string& path, fb::DType dtype, const std::vector<int64_t>& shape,
                const void* data);

}  // namespace edge
