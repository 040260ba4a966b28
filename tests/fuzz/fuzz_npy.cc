// Fuzz target: .npy bytes -> ParseNpy (header tokenizer, dtype, shape and size
// checks). Errors are Status values; a parsed array must hold exactly the
// bytes its shape and dtype say, and re-encode to a file that parses back.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "runtime/io/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto a = edge::ParseNpy(data, size);
  if (!a.ok()) return 0;
  const edge::NpyArray& arr = a.value();
  std::vector<uint8_t> again;
  if (!edge::EncodeNpy(arr.dtype, arr.shape, arr.data.data(), &again).ok()) abort();
  auto b = edge::ParseNpy(again.data(), again.size());
  if (!b.ok() || b.value().shape != arr.shape || b.value().data != arr.data) abort();
  return 0;
}
