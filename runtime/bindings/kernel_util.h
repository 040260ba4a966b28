// Shared helpers of the op bindings: arity, dtypes, shapes, axes, the
// kernel-private state allocation, the ISA level and thread count to plan
// for. Every error names the op type and the mismatch; the session prefixes
// the op index and name. Error codes: kInvalidModel where the model breaks
// an op's contract (arity, a dtype the op does not take, a shape that does
// not fit), as the validator reports the same faults; the bindings return
// kUnsupported themselves for valid models this build does not handle.
#pragma once

#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <new>

#include "ops/isa.h"
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
// Only after HasInput / CheckArity.
inline const TensorInfo& In(const KernelPrepareContext* ctx, int i) {
  return ctx->model->tensor(ctx->node->inputs[i]);
}
inline const TensorInfo& Out(const KernelPrepareContext* ctx, int i) {
  return ctx->model->tensor(ctx->node->outputs[i]);
}

// Input count in [min_in, max_in] with the first `required` inputs present;
// output count in [min_out, max_out] (all present).
inline Status CheckArity(const KernelPrepareContext* ctx, int min_in, int max_in, int required,
                         int min_out, int max_out) {
  const int ni = NumInputs(ctx), no = NumOutputs(ctx);
  if (ni < min_in || ni > max_in)
    return Invalid(ctx, "has %d inputs, expected %d..%d", ni, min_in, max_in);
  if (no < min_out || no > max_out)
    return Invalid(ctx, "has %d outputs, expected %d..%d", no, min_out, max_out);
  for (int i = 0; i < required; ++i)
    if (!HasInput(ctx, i)) return Invalid(ctx, "required input %d is absent", i);
  for (int i = 0; i < no; ++i)
    if (ctx->node->outputs[i] < 0) return Invalid(ctx, "output %d is absent", i);
  return Status::Ok();
}

inline Status CheckDType(const KernelPrepareContext* ctx, const TensorInfo& t, const char* role,
                         fb::DType want) {
  if (t.dtype != want)
    return Invalid(ctx, "%s '%s' has dtype %s, expected %s", role, t.name, fb::EnumNameDType(t.dtype),
                   fb::EnumNameDType(want));
  if (t.quant != fb::QuantScheme::None)
    return Invalid(ctx, "%s '%s' is quantized; this op takes plain tensors", role, t.name);
  return Status::Ok();
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

// Input count in [min_in, max_in] with the first min_in present (named by
// in_names in messages), one output, every present tensor F32.
inline Status CheckArityF32(const KernelPrepareContext* ctx, int min_in, int max_in,
                            const char* const* in_names) {
  const int nin = NumInputs(ctx);
  if (nin < min_in || nin > max_in)
    return Invalid(ctx, "expected %d..%d inputs, got %d", min_in, max_in, nin);
  if (NumOutputs(ctx) != 1 || ctx->node->outputs[0] < 0) return Invalid(ctx, "expected 1 output");
  for (int i = 0; i < min_in; ++i)
    if (!HasInput(ctx, i)) return Invalid(ctx, "input %s is missing", in_names[i]);
  for (int i = 0; i < nin; ++i) {
    if (HasInput(ctx, i) && In(ctx, i).dtype != fb::DType::F32)
      return Invalid(ctx, "input %s has dtype %s; only F32 is supported", in_names[i],
                     DTypeName(In(ctx, i).dtype));
  }
  if (Out(ctx, 0).dtype != fb::DType::F32)
    return Invalid(ctx, "output dtype %s; only F32 is supported", DTypeName(Out(ctx, 0).dtype));
  return Status::Ok();
}

// Shared prologue of the single-input layout copies (Slice, Transpose): one
// input and one output of the same fixed-size, unquantized dtype and rank.
// `verb` completes "cannot be ..." in the error. Sets *esize (bytes/element).
inline Status CheckLayoutCopy(KernelPrepareContext* ctx, const char* verb, size_t* esize) {
  EDGE_RETURN_IF_ERROR(CheckArity(ctx, 1, 1, 1, 1, 1));
  const TensorInfo& x = In(ctx, 0);
  const TensorInfo& y = Out(ctx, 0);
  if (x.dtype != y.dtype)
    return Invalid(ctx, "input dtype %s differs from output dtype %s", fb::EnumNameDType(x.dtype),
                   fb::EnumNameDType(y.dtype));
  *esize = DTypeSize(x.dtype);
  if (*esize == 0 || x.quant != fb::QuantScheme::None)
    return Invalid(ctx, "dtype %s (quantized or packed) cannot be %s", fb::EnumNameDType(x.dtype), verb);
  if (x.rank != y.rank) return Invalid(ctx, "input rank %d differs from output rank %d", x.rank, y.rank);
  return Status::Ok();
}

// 1 to max_in inputs (the first present), one output; input 0 and the
// output are plain F32.
inline Status CheckF32InOut(KernelPrepareContext* ctx, int max_in) {
  EDGE_RETURN_IF_ERROR(CheckArity(ctx, 1, max_in, 1, 1, 1));
  EDGE_RETURN_IF_ERROR(CheckDType(ctx, In(ctx, 0), "input", fb::DType::F32));
  return CheckDType(ctx, Out(ctx, 0), "output", fb::DType::F32);
}

// Shared prologue of the norms (LayerNorm, RMSNorm, GroupNorm): F32 input
// and output of the same shape, rank >= 1, 1 to max_in inputs.
inline Status CheckLastAxisNorm(KernelPrepareContext* ctx, int max_in) {
  EDGE_RETURN_IF_ERROR(CheckF32InOut(ctx, max_in));
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

inline IsaLevel Isa(const KernelPrepareContext* ctx) {
  return ctx->cpu != nullptr ? BestIsaLevel(*ctx->cpu) : IsaLevel::kScalar;
}

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
