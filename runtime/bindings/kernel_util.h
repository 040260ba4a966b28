// Shared helpers of the op bindings: shapes, axes, the kernel-private state
// allocation, the kernel table, the ISA level and thread count to plan for. A binding sees
// only validated models, so input/output counts, dtypes and the presence,
// type and value ranges of option tables are already checked (the op
// traits table, runtime/op_traits.cc, and runtime/model_validate.cc); what
// is left here depends on shapes. Every error names the op type and the
// mismatch; the session prefixes the op index and name. Error codes:
// kInvalidModel where a shape does not fit the op; the bindings return
// kUnsupported themselves for valid models this build does not handle.
#pragma once

#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <new>

#include "ops/kernel_config.h"
#include "runtime/kernel.h"

#if defined(EDGE_WITH_XNNPACK)
#include <xnnpack.h>
#endif

namespace edge {
namespace kernel_util {

inline const char* OpTypeName(const KernelPrepareContext* ctx) {
  return fb::EnumNameOpType(ctx->node->type);
}

// kInvalidModel "<OpType>: <message>".
inline Status Invalid(const KernelPrepareContext* ctx, const char* fmt, ...)
    __attribute__((format(printf, 2, 3)));
inline Status Invalid(const KernelPrepareContext* ctx, const char* fmt, ...) {
  char buf[200];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  return Status::Error(StatusCode::kInvalidModel, "%s: %s", OpTypeName(ctx), buf);
}

// "[2,3,4]" into buf.
inline const char* ShapeStr(const TensorInfo& t, char* buf, size_t size) {
  size_t n = static_cast<size_t>(std::snprintf(buf, size, "["));
  for (int i = 0; i < t.rank && n < size; ++i)
    n += static_cast<size_t>(std::snprintf(buf + n, size - n, i ? ",%lld" : "%lld",
                                           static_cast<long long>(t.dims[i])));
  if (n < size) std::snprintf(buf + n, size - n, "]");
  return buf;
}

template <size_t N>
inline const char* ShapeStr(const TensorInfo& t, char (&buf)[N]) {
  return ShapeStr(t, buf, N);
}

struct Shape {  // holds the text of one shape for a message
  char text[96];
  explicit Shape(const TensorInfo& t) { ShapeStr(t, text, sizeof(text)); }
};

inline int NumInputs(const KernelPrepareContext* ctx) {
  return static_cast<int>(ctx->node->inputs.size());
}
inline int NumOutputs(const KernelPrepareContext* ctx) {
  return static_cast<int>(ctx->node->outputs.size());
}
inline bool HasInput(const KernelPrepareContext* ctx, int i) {
  return i < NumInputs(ctx) && ctx->node->inputs[i] >= 0;
}
// Inputs the op requires (op_traits.cc), or after HasInput.
inline const TensorInfo& In(const KernelPrepareContext* ctx, int i) {
  return ctx->model->tensor(ctx->node->inputs[i]);
}
inline const TensorInfo& Out(const KernelPrepareContext* ctx, int i) {
  return ctx->model->tensor(ctx->node->outputs[i]);
}

inline bool SameShape(const TensorInfo& a, const TensorInfo& b) {
  if (a.rank != b.rank) return false;
  for (int i = 0; i < a.rank; ++i)
    if (a.dims[i] != b.dims[i]) return false;
  return true;
}

inline Status CheckSameShape(const KernelPrepareContext* ctx, const TensorInfo& a, const char* ra,
                             const TensorInfo& b, const char* rb) {
  if (!SameShape(a, b))
    return Invalid(ctx, "%s shape %s differs from %s shape %s", ra, Shape(a).text, rb, Shape(b).text);
  return Status::Ok();
}

// Shared prologue of the single-input layout copies (Slice, Transpose):
// input and output of the same rank. Sets *esize (bytes/element; the
// validator admits only whole-byte, unquantized dtypes here).
inline Status CheckLayoutCopy(KernelPrepareContext* ctx, size_t* esize) {
  const TensorInfo& x = In(ctx, 0);
  const TensorInfo& y = Out(ctx, 0);
  *esize = DTypeSize(x.dtype);
  if (x.rank != y.rank) return Invalid(ctx, "input rank %d differs from output rank %d", x.rank, y.rank);
  return Status::Ok();
}

// Shared prologue of the norms (LayerNorm, RMSNorm, GroupNorm): input and
// output of the same shape, rank >= 1.
inline Status CheckLastAxisNorm(KernelPrepareContext* ctx) {
  const TensorInfo& x = In(ctx, 0);
  const TensorInfo& y = Out(ctx, 0);
  if (x.rank < 1) return Invalid(ctx, "input '%s' is a scalar; need rank >= 1", x.name);
  return CheckSameShape(ctx, x, "input", y, "output");
}

// Product of dims [begin, end).
inline int64_t Product(const TensorInfo& t, int begin, int end) {
  int64_t n = 1;
  for (int i = begin; i < end; ++i) n *= t.dims[i];
  return n;
}

// Axis in [-rank, rank) -> [0, rank); -1 if out of range.
inline int NormalizeAxis(int axis, int rank) {
  if (axis < -rank || axis >= rank) return -1;
  return axis < 0 ? axis + rank : axis;
}

// Allocates the kernel state (freed by the binding's destroy()).
template <class T>
inline Status NewState(KernelPrepareContext* ctx, T** out) {
  T* s = new (std::nothrow) T();
  if (s == nullptr)
    return Status::Error(StatusCode::kOutOfMemory, "%s: cannot allocate kernel state", OpTypeName(ctx));
  ctx->state = s;
  *out = s;
  return Status::Ok();
}

template <class T>
inline void DeleteState(void* state) {
  delete static_cast<T*>(state);
}

// The kernel table to pick from (ops/kernel_config.h).
inline const KernelConfig& Kernels(const KernelPrepareContext* ctx) {
  return ctx->kernels != nullptr ? *ctx->kernels : kernel_config(IsaLevel::kScalar);
}

inline IsaLevel Isa(const KernelPrepareContext* ctx) { return Kernels(ctx).isa; }

inline size_t Threads(pthreadpool_t pool) {
  return pool != nullptr ? pthreadpool_get_threads_count(pool) : 1;
}

#if defined(EDGE_WITH_XNNPACK)
// XNNPACK initialized once (thread-safe static); false if it cannot run here.
inline bool XnnReady() {
  static const bool ok = xnn_initialize(nullptr) == xnn_status_success;
  return ok;
}
#endif

}  // namespace kernel_util
}  // namespace edge
