#include "runtime/status.h"

namespace edge {

const char* StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "ok";
    case StatusCode::kInvalidArgument: return "invalid argument";
    case StatusCode::kInvalidModel: return "invalid model";
    case StatusCode::kUnsupported: return "unsupported";
    case StatusCode::kOutOfMemory: return "out of memory";
    case StatusCode::kIoError: return "i/o error";
    case StatusCode::kInternal: return "internal error";
    case StatusCode::kNumericError: return "numeric error";
  }
  return "unknown";
}

Status Status::Error(StatusCode code, const char* fmt, ...) {
  Status s;
  s.code_ = code;
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(s.message_, sizeof(s.message_), fmt, ap);
  va_end(ap);
  return s;
}

Status& Status::Prepend(const char* fmt, ...) {
  char prefix[128];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(prefix, sizeof(prefix), fmt, ap);
  va_end(ap);
  char joined[sizeof(message_)];
  std::snprintf(joined, sizeof(joined), "%s%s", prefix, message_);
  std::memcpy(message_, joined, sizeof(message_));
  return *this;
}

}  // namespace edge
