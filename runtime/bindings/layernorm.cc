// LayerNorm binding: (x, gamma?, beta?) -> y over the last axis of x.
#include <cmath>

#include "ops/f32_norm.h"
#include "runtime/bindings/kernel_util.h"

namespace edge {
namespace {

using namespace kernel_util;

struct State {
  f32_layernorm_fn fn = nullptr;
  size_t rows = 0, cols = 0;
  float eps = 1e-5f;
};

Status Prepare(KernelPrepareContext* ctx) {
  EDGE_RETURN_IF_ERROR(CheckLastAxisNorm(ctx));
  const TensorInfo& x = In(ctx, 0);
  const int64_t d = x.dims[x.rank - 1];
  const char* roles[3] = {"input", "gamma", "beta"};
  for (int i = 1; i < 3; ++i) {
    if (!HasInput(ctx, i)) continue;
    const TensorInfo& p = In(ctx, i);
    if (p.num_elements != d || (p.rank > 0 && p.dims[p.rank - 1] != d))
      return Invalid(ctx, "%s '%s' has shape %s, expected [%lld] (last axis of input %s)", roles[i],
                     p.name, Shape(p).text, static_cast<long long>(d), Shape(x).text);
  }
  const float eps = ctx->node->op->options_as_NormOptions()->epsilon();  // finite, >= 0: validated
  State* s = nullptr;
  EDGE_RETURN_IF_ERROR(NewState(ctx, &s));
  s->cols = static_cast<size_t>(d);
  s->rows = d == 0 ? 0 : static_cast<size_t>(x.num_elements / d);
  s->eps = eps;
  s->fn = Kernels(ctx).layernorm.fn;
  ctx->kernel_name = Kernels(ctx).layernorm.name;
  return Status::Ok();
}

Status Eval(KernelEvalContext* ctx) {
  const State* s = static_cast<const State*>(ctx->state);
  const float* gamma = ctx->has_input(1) ? ctx->input<float>(1) : nullptr;
  const float* beta = ctx->has_input(2) ? ctx->input<float>(2) : nullptr;
  s->fn(s->rows, s->cols, ctx->input<float>(0), gamma, beta, s->eps, ctx->output<float>(0), ctx->pool);
  return Status::Ok();
}

}  // namespace

extern const OpKernel kLayerNormKernel;
const OpKernel kLayerNormKernel = {Prepare, nullptr, Eval, DeleteState<State>};

}  // namespace edge
