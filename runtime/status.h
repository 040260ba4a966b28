// Status codes and Result<T> for the runtime core. No exceptions, no RTTI:
// every fallible call returns a Status (or a Result carrying a value), in the
// spirit of xnn_status and ExecuTorch's Error/Result. The message is a fixed
// buffer so that reporting an error never allocates.
#pragma once

#include <cstdarg>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <new>
#include <utility>

namespace edge {

enum class StatusCode : int {
  kOk = 0,
  kInvalidArgument = 1,  // caller passed something wrong (shape, option, input)
  kInvalidModel = 2,     // the model file is malformed or hostile
  kUnsupported = 3,      // valid but not handled by this build
  kOutOfMemory = 4,
  kIoError = 5,
  kInternal = 6,
  kNumericError = 7,     // NaN/Inf where a finite value is required
};

const char* StatusCodeName(StatusCode code);

class Status {
 public:
  Status() = default;
  static Status Ok() { return Status(); }
  // printf-style message; truncated to fit the fixed buffer.
  static Status Error(StatusCode code, const char* fmt, ...)
      __attribute__((format(printf, 2, 3)));

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const char* message() const { return message_; }

  // Prefix the message with context, e.g. "op 12 (Linear): ".
  Status& Prepend(const char* fmt, ...) __attribute__((format(printf, 2, 3)));

 private:
  StatusCode code_ = StatusCode::kOk;
  char message_[256] = {0};
};

// A value or an error. T must be movable. No exceptions: check ok() first.
template <typename T>
class Result {
 public:
  Result(T value) : ok_(true) { new (&storage_) T(std::move(value)); }  // NOLINT
  Result(Status status) : status_(status), ok_(false) {}               // NOLINT
  Result(Result&& other) noexcept : status_(other.status_), ok_(other.ok_) {
    if (ok_) new (&storage_) T(std::move(other.value()));
  }
  Result(const Result&) = delete;
  Result& operator=(const Result&) = delete;
  ~Result() {
    if (ok_) value().~T();
  }

  bool ok() const { return ok_; }
  const Status& status() const { return status_; }
  T& value() { return *reinterpret_cast<T*>(&storage_); }
  const T& value() const { return *reinterpret_cast<const T*>(&storage_); }
  T& operator*() { return value(); }
  T* operator->() { return &value(); }

 private:
  Status status_;
  bool ok_;
  alignas(T) unsigned char storage_[sizeof(T)];
};

}  // namespace edge

// Return the status from the enclosing function if it is an error.
#define EDGE_RETURN_IF_ERROR(expr)              \
  do {                                          \
    ::edge::Status edge_status_ = (expr);       \
    if (!edge_status_.ok()) return edge_status_; \
  } while (0)

// Check a condition; on failure return an error with a formatted message.
#define EDGE_CHECK_OR_RETURN(cond, code, ...)                   \
  do {                                                          \
    if (!(cond)) return ::edge::Status::Error((code), __VA_ARGS__); \
  } while (0)

#define EDGE_CONCAT_INNER_(a, b) a##b
#define EDGE_CONCAT_(a, b) EDGE_CONCAT_INNER_(a, b)
// Assign the value of a Result expression to `lhs`, or return its error.
#define EDGE_ASSIGN_OR_RETURN(lhs, expr)                               \
  auto EDGE_CONCAT_(edge_result_, __LINE__) = (expr);                  \
  if (!EDGE_CONCAT_(edge_result_, __LINE__).ok())                       \
    return EDGE_CONCAT_(edge_result_, __LINE__).status();              \
  lhs = std::move(EDGE_CONCAT_(edge_result_, __LINE__).value())
