// Bindings of the elementwise unary ops: Gelu (GeluOptions.approximate_tanh),
// SiLU, and Unary (UnaryOptions.kind). All run f32_vunary_* with a kind.
#include "ops/f32_activation.h"
#include "runtime/bindings/kernel_util.h"
#include "runtime/op_traits.h"

namespace edge {
namespace {

using namespace kernel_util;

struct State {
  f32_vunary_fn fn = nullptr;
  F32Unary kind = F32Unary::kGelu;
  size_t n = 0;
};

// Arity, F32 dtypes and the option tables are the validator's (op_traits.cc).
Status PrepareKind(KernelPrepareContext* ctx, F32Unary kind) {
  const TensorInfo& x = In(ctx, 0);
  const TensorInfo& y = Out(ctx, 0);
  EDGE_RETURN_IF_ERROR(CheckSameShape(ctx, x, "input", y, "output"));
  State* s = nullptr;
  EDGE_RETURN_IF_ERROR(NewState(ctx, &s));
  s->kind = kind;
  s->n = static_cast<size_t>(x.num_elements);
  s->fn = Kernels(ctx).unary;
  ctx->kernel_name = F32UnaryKernelName(kind, Kernels(ctx).f32);
  return Status::Ok();
}

Status PrepareGelu(KernelPrepareContext* ctx) {
  const fb::GeluOptions* o = ctx->node->op->options_as_GeluOptions();
  return PrepareKind(ctx, o->approximate_tanh() ? F32Unary::kGeluTanh : F32Unary::kGelu);
}

Status PrepareSilu(KernelPrepareContext* ctx) { return PrepareKind(ctx, F32Unary::kSilu); }

Status PrepareUnary(KernelPrepareContext* ctx) {
  const fb::UnaryOptions* o = ctx->node->op->options_as_UnaryOptions();
  // The validator checked kind <= UnaryKind::MAX.
  return PrepareKind(ctx, F32UnaryOfKind(o->kind()));
}

Status Eval(KernelEvalContext* ctx) {
  const State* s = static_cast<const State*>(ctx->state);
  s->fn(s->kind, s->n, ctx->input<float>(0), ctx->output<float>(0), ctx->pool);
  return Status::Ok();
}

}  // namespace

extern const OpKernel kGeluKernel;
const OpKernel kGeluKernel = {PrepareGelu, nullptr, Eval, DeleteState<State>};
extern const OpKernel kSiLUKernel;
const OpKernel kSiLUKernel = {PrepareSilu, nullptr, Eval, DeleteState<State>};
extern const OpKernel kUnaryKernel;
const OpKernel kUnaryKernel = {PrepareUnary, nullptr, Eval, DeleteState<State>};

}  // namespace edge
