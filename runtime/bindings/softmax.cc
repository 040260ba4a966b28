// Softmax binding: along AxisOptions.axis (default -1), any axis.
#include "ops/f32_softmax.h"
#include "runtime/bindings/kernel_util.h"

namespace edge {
namespace {

using namespace kernel_util;

struct State {
  f32_softmax_fn fn = nullptr;
  size_t outer = 0, axis = 0, inner = 0;
};

Status Prepare(KernelPrepareContext* ctx) {
  const TensorInfo& x = In(ctx, 0);
  const TensorInfo& y = Out(ctx, 0);
  EDGE_RETURN_IF_ERROR(CheckSameShape(ctx, x, "input", y, "output"));
  // The validator checked the axis against the input's rank (>= 1).
  const int axis = NormalizeAxis(ctx->node->op->options_as_AxisOptions()->axis(), x.rank);
  State* s = nullptr;
  EDGE_RETURN_IF_ERROR(NewState(ctx, &s));
  s->outer = static_cast<size_t>(Product(x, 0, axis));
  s->axis = static_cast<size_t>(x.dims[axis]);
  s->inner = static_cast<size_t>(Product(x, axis + 1, x.rank));
  s->fn = Kernels(ctx).softmax.fn;
  ctx->kernel_name = Kernels(ctx).softmax.name;
  return Status::Ok();
}

Status Eval(KernelEvalContext* ctx) {
  const State* s = static_cast<const State*>(ctx->state);
  s->fn(s->outer, s->axis, s->inner, ctx->input<float>(0), ctx->output<float>(0), ctx->pool);
  return Status::Ok();
}

}  // namespace

extern const OpKernel kSoftmaxKernel;
const OpKernel kSoftmaxKernel = {Prepare, nullptr, Eval, DeleteState<State>};

}  // namespace edge
