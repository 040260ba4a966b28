// Add / Sub / Mul / Div bindings with numpy (ONNX) broadcasting. The output
// tensor's shape must be exactly the broadcast shape of the inputs.
#include "ops/f32_binary.h"
#include "runtime/bindings/kernel_util.h"

namespace edge {
namespace {

using namespace kernel_util;

struct State {
  f32_vbinary_fn fn = nullptr;
  BinaryOp op = BinaryOp::kAdd;
  BroadcastPlan plan;
};

// Arity and F32 dtypes are the validator's (op_traits.cc); the shapes are ours.
Status PrepareOp(KernelPrepareContext* ctx, BinaryOp op) {
  const TensorInfo& a = In(ctx, 0);
  const TensorInfo& b = In(ctx, 1);
  const TensorInfo& y = Out(ctx, 0);
  int64_t dims[kMaxBroadcastRank];
  int rank = 0;
  if (!BroadcastShape(a.dims, a.rank, b.dims, b.rank, dims, &rank))
    return Invalid(ctx, "input shapes %s and %s do not broadcast", Shape(a).text, Shape(b).text);
  bool same = rank == y.rank;
  for (int i = 0; same && i < rank; ++i) same = dims[i] == y.dims[i];
  if (!same)
    return Invalid(ctx, "output shape %s is not the broadcast of %s and %s", Shape(y).text,
                   Shape(a).text, Shape(b).text);
  State* s = nullptr;
  EDGE_RETURN_IF_ERROR(NewState(ctx, &s));
  s->op = op;
  PlanBroadcast(a.dims, a.rank, b.dims, b.rank, &s->plan);
  s->fn = Kernels(ctx).binary.fn;
  ctx->kernel_name = Kernels(ctx).binary.name;
  return Status::Ok();
}

Status PrepareAdd(KernelPrepareContext* ctx) { return PrepareOp(ctx, BinaryOp::kAdd); }
Status PrepareSub(KernelPrepareContext* ctx) { return PrepareOp(ctx, BinaryOp::kSub); }
Status PrepareMul(KernelPrepareContext* ctx) { return PrepareOp(ctx, BinaryOp::kMul); }
Status PrepareDiv(KernelPrepareContext* ctx) { return PrepareOp(ctx, BinaryOp::kDiv); }

Status Eval(KernelEvalContext* ctx) {
  const State* s = static_cast<const State*>(ctx->state);
  f32_binary_broadcast(s->plan, s->op, ctx->input<float>(0), ctx->input<float>(1),
                       ctx->output<float>(0), s->fn, ctx->pool);
  return Status::Ok();
}

}  // namespace

extern const OpKernel kAddKernel;
const OpKernel kAddKernel = {PrepareAdd, nullptr, Eval, DeleteState<State>};
extern const OpKernel kSubKernel;
const OpKernel kSubKernel = {PrepareSub, nullptr, Eval, DeleteState<State>};
extern const OpKernel kMulKernel;
const OpKernel kMulKernel = {PrepareMul, nullptr, Eval, DeleteState<State>};
extern const OpKernel kDivKernel;
const OpKernel kDivKernel = {PrepareDiv, nullptr, Eval, DeleteState<State>};

}  // namespace edge
