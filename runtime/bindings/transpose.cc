// Transpose binding: out.dims[i] = in.dims[perm[i]] (TransposeOptions.perm;
// absent means reversed axes, as in ONNX). Any 1/2/4/8-byte dtype.
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
  EDGE_RETURN_IF_ERROR(CheckLayoutCopy(ctx, "transposed", &esize));
  const TensorInfo& x = In(ctx, 0);
  const TensorInfo& y = Out(ctx, 0);
  int perm[kMaxRank];
  const fb::TransposeOptions* o =
      ctx->node->op != nullptr ? ctx->node->op->options_as_TransposeOptions() : nullptr;
  if (o != nullptr && o->perm() != nullptr && o->perm()->size() > 0) {
    if (static_cast<int>(o->perm()->size()) != x.rank)
      return Invalid(ctx, "perm has %u entries, input %s has rank %d", o->perm()->size(), Shape(x).text, x.rank);
    bool seen[kMaxRank] = {false};
    for (int i = 0; i < x.rank; ++i) {
      const int p = o->perm()->Get(i);
      if (p < 0 || p >= x.rank || seen[p]) return Invalid(ctx, "perm is not a permutation of 0..%d", x.rank - 1);
      seen[p] = true;
      perm[i] = p;
    }
  } else {
    for (int i = 0; i < x.rank; ++i) perm[i] = x.rank - 1 - i;
  }
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
