// Small helpers shared by the dense F32 bindings (Linear, MatMul, Conv2d,
// Attention, RoPE): input checks with messages that name the op, shape
// formatting and the thread count of the session's pool.
#pragma once

#include <cstddef>
#include <cstdio>

#include "ops/f32_gemm.h"
#include "runtime/kernel.h"

#if defined(EDGE_WITH_XNNPACK)
#include <xnnpack.h>
#endif

namespace edge {
namespace dense {

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

inline IsaLevel Isa(const KernelPrepareContext* ctx) {
  return ctx->cpu != nullptr ? BestIsaLevel(*ctx->cpu) : IsaLevel::kScalar;
}

// "[2, 16, 64]" into buf.
inline const char* ShapeStr(const TensorInfo& t, char (&buf)[96]) {
  int o = std::snprintf(buf, sizeof(buf), "[");
  for (int i = 0; i < t.rank && o < 80; ++i) {
    o += std::snprintf(buf + o, sizeof(buf) - o, i ? ", %lld" : "%lld",
                       static_cast<long long>(t.dims[i]));
  }
  std::snprintf(buf + o, sizeof(buf) - o, "]");
  return buf;
}

inline bool HasInput(const KernelPrepareContext* ctx, int i) {
  return i < static_cast<int>(ctx->node->inputs.size()) && ctx->node->inputs[i] >= 0;
}
inline const TensorInfo& In(const KernelPrepareContext* ctx, int i) {
  return ctx->model->tensor(ctx->node->inputs[i]);
}
inline const TensorInfo& Out(const KernelPrepareContext* ctx, int i) {
  return ctx->model->tensor(ctx->node->outputs[i]);
}

// Arity and F32 dtypes of the present inputs and outputs.
inline Status CheckArityF32(const KernelPrepareContext* ctx, const char* op, int min_in,
                            int max_in, const char* const* in_names) {
  const int nin = static_cast<int>(ctx->node->inputs.size());
  EDGE_CHECK_OR_RETURN(nin >= min_in && nin <= max_in, StatusCode::kInvalidModel,
                       "%s: expected %d..%d inputs, got %d", op, min_in, max_in, nin);
  EDGE_CHECK_OR_RETURN(ctx->node->outputs.size() == 1 && ctx->node->outputs[0] >= 0,
                       StatusCode::kInvalidModel, "%s: expected 1 output", op);
  for (int i = 0; i < min_in; ++i) {
    EDGE_CHECK_OR_RETURN(HasInput(ctx, i), StatusCode::kInvalidModel, "%s: input %s is missing",
                         op, in_names[i]);
  }
  for (int i = 0; i < nin; ++i) {
    if (!HasInput(ctx, i)) continue;
    const TensorInfo& t = In(ctx, i);
    EDGE_CHECK_OR_RETURN(t.dtype == fb::DType::F32, StatusCode::kUnsupported,
                         "%s: input %s has dtype %s; only F32 is supported", op, in_names[i],
                         DTypeName(t.dtype));
  }
  EDGE_CHECK_OR_RETURN(Out(ctx, 0).dtype == fb::DType::F32, StatusCode::kUnsupported,
                       "%s: output dtype %s; only F32 is supported", op,
                       DTypeName(Out(ctx, 0).dtype));
  return Status::Ok();
}

}  // namespace dense
}  // namespace edge
