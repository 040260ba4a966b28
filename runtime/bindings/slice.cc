// Slice binding: SliceOptions gives, per input axis, the start index and the
// step (negative steps walk backwards); the output shape gives the extent.
// A negative start counts from the end of the axis (once). Every index read
// is checked against the input here, so eval cannot read out of bounds.
#include "ops/layout.h"
#include "runtime/bindings/kernel_util.h"

namespace edge {
namespace {

using namespace kernel_util;

struct State {
  StridedCopyPlan plan;
};

Status Prepare(KernelPrepareContext* ctx) {
  size_t esize = 0;
  EDGE_RETURN_IF_ERROR(CheckLayoutCopy(ctx, &esize));
  const TensorInfo& x = In(ctx, 0);
  const TensorInfo& y = Out(ctx, 0);
  // The validator checked one nonzero step and one start per input axis; a
  // rank-0 input may come with no vectors at all.
  const fb::SliceOptions* o = ctx->node->op->options_as_SliceOptions();
  if (o->starts() == nullptr || o->steps() == nullptr)
    return Invalid(ctx, "missing SliceOptions starts/steps");
  int64_t starts[kMaxRank], steps[kMaxRank];
  for (int i = 0; i < x.rank; ++i) {
    const int64_t dim = x.dims[i], ext = y.dims[i];
    int64_t start = o->starts()->Get(i);
    const int64_t step = o->steps()->Get(i);
    if (start < 0) start += dim;
    // An axis that takes no element ignores start and step, one that takes
    // one element ignores the step: neutral values keep the strides and the
    // offset the copy plan derives from them in range.
    starts[i] = ext == 0 ? 0 : start;
    steps[i] = ext > 1 ? step : 1;
    if (ext == 0) continue;
    if (start < 0 || start >= dim)
      return Invalid(ctx, "axis %d: start %lld is outside [0, %lld)", i,
                     static_cast<long long>(o->starts()->Get(i)), static_cast<long long>(dim));
    // |step| <= dim whenever ext > 1 keeps (ext - 1) * step far from overflow.
    const int64_t mag = step < 0 ? -step : step;
    if (ext > 1 && (mag > dim || step == INT64_MIN))
      return Invalid(ctx, "axis %d: %lld elements with step %lld do not fit in %lld", i,
                     static_cast<long long>(ext), static_cast<long long>(step), static_cast<long long>(dim));
    const int64_t last = start + (ext - 1) * step;
    if (last < 0 || last >= dim)
      return Invalid(ctx, "axis %d: start %lld + %lld steps of %lld reaches %lld, outside [0, %lld)", i,
                     static_cast<long long>(start), static_cast<long long>(ext - 1),
                     static_cast<long long>(step), static_cast<long long>(last), static_cast<long long>(dim));
  }
  State* s = nullptr;
  EDGE_RETURN_IF_ERROR(NewState(ctx, &s));
  PlanSlice(x.rank, x.dims, starts, steps, y.dims, esize, &s->plan);
  ctx->kernel_name = "slice_strided_copy";
  return Status::Ok();
}

Status Eval(KernelEvalContext* ctx) {
  const State* s = static_cast<const State*>(ctx->state);
  StridedCopy(s->plan, ctx->input<void>(0), ctx->output<void>(0), ctx->pool);
  return Status::Ok();
}

}  // namespace

extern const OpKernel kSliceKernel;
const OpKernel kSliceKernel = {Prepare, nullptr, Eval, DeleteState<State>};

}  // namespace edge
