#include "runtime/tools/arg_reader.h"

#include <cstring>

namespace edge {
namespace cli {

bool ArgReader::Next() {
  if (++i_ >= argc_) return false;
  const char* a = argv_[i_];
  inline_value_ = nullptr;
  value_taken_ = false;
  // Only long options split at '=': a positional (a path) may hold one.
  const char* eq = std::strncmp(a, "--", 2) == 0 ? std::strchr(a, '=') : nullptr;
  if (eq != nullptr) {
    arg_.assign(a, eq - a);
    inline_value_ = eq + 1;
  } else {
    arg_ = a;
  }
  return true;
}

const char* ArgReader::Value() {
  if (value_taken_) return nullptr;
  value_taken_ = true;
  if (inline_value_ != nullptr) return inline_value_;
  if (i_ + 1 >= argc_) return nullptr;
  return argv_[++i_];
}

}  // namespace cli
}  // namespace edge
