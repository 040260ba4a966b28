// Helpers shared by the model writer/loader tests.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "runtime/model.h"
#include "runtime/writer/model_writer.h"

namespace edge {
namespace testing_util {

// An exactly sized, 64-byte aligned copy of some bytes: the loader may
// borrow it, and AddressSanitizer flags any read past its end.
class AlignedBytes {
 public:
  explicit AlignedBytes(const std::vector<uint8_t>& bytes, size_t size) : size_(size) {
    if (posix_memalign(&p_, 64, size ? size : 1) != 0) p_ = nullptr;
    if (p_ && size) std::memcpy(p_, bytes.data(), size);
  }
  explicit AlignedBytes(const std::vector<uint8_t>& bytes) : AlignedBytes(bytes, bytes.size()) {}
  ~AlignedBytes() { std::free(p_); }
  AlignedBytes(const AlignedBytes&) = delete;
  AlignedBytes& operator=(const AlignedBytes&) = delete;
  const void* data() const { return p_; }
  size_t size() const { return size_; }

 private:
  void* p_ = nullptr;
  size_t size_;
};

inline Result<std::unique_ptr<Model>> LoadBorrowed(const std::vector<uint8_t>& bytes,
                                                   size_t size) {
  AlignedBytes copy(bytes, size);
  auto r = Model::LoadBuffer(copy.data(), copy.size(), /*copy=*/false);
  if (!r.ok()) return r.status();
  // The borrowed bytes die here: hand back a model that owns its copy.
  return Model::LoadBuffer(copy.data(), copy.size(), /*copy=*/true);
}

inline Result<std::unique_ptr<Model>> LoadBorrowed(const std::vector<uint8_t>& bytes) {
  return LoadBorrowed(bytes, bytes.size());
}

inline std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir && dir[0] ? dir : "/tmp") + "/edge_model_test_" +
         std::to_string(static_cast<long>(getpid())) + "_" + name;
}

inline std::vector<float> Ramp(size_t n, float start = 0.f, float step = 0.25f) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = start + step * static_cast<float>(i);
  return v;
}

}  // namespace testing_util
}  // namespace edge
