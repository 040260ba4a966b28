// Reshape and Copy bindings: a byte copy (skipped when the planner gave the
// output the input's memory). Reshape's target shape is the output tensor's
// shape; an ONNX-style second "shape" input is accepted and ignored.
#include <cstring>

#include "ops/parallel.h"
#include "runtime/bindings/kernel_util.h"

namespace edge {
namespace {

using namespace kernel_util;

struct State {
  size_t bytes = 0;
};

Status PrepareCommon(KernelPrepareContext* ctx, bool reshape) {
  // Arity and one unquantized dtype throughout are the validator's.
  const TensorInfo& x = In(ctx, 0);
  const TensorInfo& y = Out(ctx, 0);
  if (x.num_elements != y.num_elements || x.bytes != y.bytes)
    return Invalid(ctx, "input %s has %lld elements, output %s has %lld", Shape(x).text,
                   static_cast<long long>(x.num_elements), Shape(y).text,
                   static_cast<long long>(y.num_elements));
  if (!reshape) EDGE_RETURN_IF_ERROR(CheckSameShape(ctx, x, "input", y, "output"));
  State* s = nullptr;
  EDGE_RETURN_IF_ERROR(NewState(ctx, &s));
  s->bytes = x.bytes;
  ctx->kernel_name = "copy_bytes";
  return Status::Ok();
}

Status PrepareReshape(KernelPrepareContext* ctx) { return PrepareCommon(ctx, true); }
Status PrepareCopy(KernelPrepareContext* ctx) { return PrepareCommon(ctx, false); }

Status Eval(KernelEvalContext* ctx) {
  const State* s = static_cast<const State*>(ctx->state);
  const uint8_t* src = ctx->input<uint8_t>(0);
  uint8_t* dst = ctx->output<uint8_t>(0);
  if (src == dst || s->bytes == 0) return Status::Ok();
  // Large copies in 256 KiB pieces across threads.
  const size_t kPiece = 256 * 1024;
  const size_t pieces = (s->bytes + kPiece - 1) / kPiece;
  ParallelFor(ctx->pool, pieces, 1, [&](size_t p0, size_t p1) {
    const size_t b0 = p0 * kPiece;
    const size_t b1 = p1 * kPiece < s->bytes ? p1 * kPiece : s->bytes;
    std::memcpy(dst + b0, src + b0, b1 - b0);
  });
  return Status::Ok();
}

}  // namespace

extern const OpKernel kReshapeKernel;
const OpKernel kReshapeKernel = {PrepareReshape, nullptr, Eval, DeleteState<State>};
extern const OpKernel kCopyKernel;
const OpKernel kCopyKernel = {PrepareCopy, nullptr, Eval, DeleteState<State>};

}  // namespace edge
