// Transpose binding: out.dims[i] = in.dims[perm[i]] (TransposeOptions.perm).
// Any 1/2/4/8-byte dtype.
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
  // The validator checked that perm is a permutation of the input's axes
  // (the converter writes ONNX's default, reversed axes, out in full).
  int perm[kMaxRank];
  const fb::TransposeOptions* o = ctx->node->op->options_as_TransposeOptions();
  for (int i = 0; i < x.rank; ++i) perm[i] = o->perm()->Get(i);
  for (int i = 0; i < x.rank; ++i) {
    if (y.dims[i] != x.dims[perm[i]])
      return Invalid(ctx, "output shape %s is not input %s permuted (axis %d should be %lld)",
                     Shape(y).text, Shape(x).text, i, static_cast<long long>(x.dims[perm[i]]));
  }
  State* s = nullptr;
  EDGE_RETURN_IF_ERROR(NewState(ctx, &s));
  PlanTranspose(x.rank, x.dims, perm, esize, &s->plan);
  ctx->kernel_name = "transpose_strided_copy";
  return Status::Ok();
}

Status Eval(KernelEvalContext* ctx) {
  const State* s = static_cast<const State*>(ctx->state);
  StridedCopy(s->plan, ctx->input<void>(0), ctx->output<void>(0), ctx->pool);
  return Status::Ok();
}

}  // namespace

extern const OpKernel kTransposeKernel;
const OpKernel kTransposeKernel = {Prepare, nullptr, Eval, DeleteState<State>};

}  // namespace edge
