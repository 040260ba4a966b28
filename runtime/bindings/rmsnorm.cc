// RMSNorm binding: (x, gamma?) -> y over the last axis of x.
#include <cmath>

#include "ops/f32_norm.h"
#include "runtime/bindings/kernel_util.h"

namespace edge {
namespace {

using namespace kernel_util;

struct State {
  f32_rmsnorm_fn fn = nullptr;
  size_t rows = 0, cols = 0;
  float eps = 1e-5f;
};

Status Prepare(KernelPrepareContext* ctx) {
  EDGE_RETURN_IF_ERROR(CheckLastAxisNorm(ctx));
  const TensorInfo& x = In(ctx, 0);
  const int64_t d = x.dims[x.rank - 1];
  if (HasInput(ctx, 1)) {
    const TensorInfo& g = In(ctx, 1);
    if (g.num_elements != d || (g.rank > 0 && g.dims[g.rank - 1] != d))
      return Invalid(ctx, "gamma '%s' has shape %s, expected [%lld] (last axis of input %s)", g.name,
                     Shape(g).text, static_cast<long long>(d), Shape(x).text);
  }
  const float eps = ctx->node->op->options_as_NormOptions()->epsilon();  // finite, >= 0: validated
  State* s = nullptr;
  EDGE_RETURN_IF_ERROR(NewState(ctx, &s));
  s->cols = static_cast<size_t>(d);
  s->rows = d == 0 ? 0 : static_cast<size_t>(x.num_elements / d);
  s->eps = eps;
  s->fn = Kernels(ctx).rmsnorm.fn;
  ctx->kernel_name = Kernels(ctx).rmsnorm.name;
  return Status::Ok();
}

Status Eval(KernelEvalContext* ctx) {
  const State* s = static_cast<const State*>(ctx->state);
  const float* gamma = ctx->has_input(1) ? ctx->input<float>(1) : nullptr;
  s->fn(s->rows, s->cols, ctx->input<float>(0), gamma, s->eps, ctx->output<float>(0), ctx->pool);
  return Status::Ok();
}

}  // namespace

extern const OpKernel kRMSNormKernel;
const OpKernel kRMSNormKernel = {Prepare, nullptr, Eval, DeleteState<State>};

}  // namespace edge
