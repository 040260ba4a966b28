// GroupNorm binding: (x[N, C, ...], gamma[C]?, beta[C]?) -> y, GroupNormOptions
// (groups, epsilon, fused activation None or SiLU). The spatial axes are
// flattened: the kernel sees [N, C, L].
#include <cmath>

#include "ops/f32_groupnorm.h"
#include "runtime/bindings/kernel_util.h"

namespace edge {
namespace {

using namespace kernel_util;

struct State {
  f32_groupnorm_fn fn = nullptr;
  F32GroupNormParams p;
};

Status Prepare(KernelPrepareContext* ctx) {
  EDGE_RETURN_IF_ERROR(CheckLastAxisNorm(ctx));
  const TensorInfo& x = In(ctx, 0);
  if (x.rank < 2) return Invalid(ctx, "input '%s' has shape %s; need [N, C, ...]", x.name, Shape(x).text);
  // groups >= 1, epsilon and the activation are the validator's.
  const fb::GroupNormOptions* o = ctx->node->op->options_as_GroupNormOptions();
  const int64_t c = x.dims[1], groups = o->groups();
  if (c % groups != 0)
    return Invalid(ctx, "%lld channels of input %s do not split into %lld groups", static_cast<long long>(c),
                   Shape(x).text, static_cast<long long>(groups));
  const char* roles[3] = {"input", "gamma", "beta"};
  for (int i = 1; i < 3; ++i) {
    if (!HasInput(ctx, i)) continue;
    const TensorInfo& p = In(ctx, i);
    if (p.num_elements != c)
      return Invalid(ctx, "%s '%s' has shape %s, expected [%lld] (channels of input %s)", roles[i], p.name,
                     Shape(p).text, static_cast<long long>(c), Shape(x).text);
  }
  State* s = nullptr;
  EDGE_RETURN_IF_ERROR(NewState(ctx, &s));
  s->p.batch = static_cast<size_t>(x.dims[0]);
  s->p.channels = static_cast<size_t>(c);
  s->p.spatial = static_cast<size_t>(Product(x, 2, x.rank));
  s->p.groups = static_cast<size_t>(groups);
  s->p.eps = o->epsilon();
  s->p.silu = o->activation() == fb::Activation::SiLU;
  s->fn = Kernels(ctx).groupnorm.fn;
  ctx->kernel_name = Kernels(ctx).groupnorm.name;
  return Status::Ok();
}

Status Eval(KernelEvalContext* ctx) {
  const State* s = static_cast<const State*>(ctx->state);
  const float* gamma = ctx->has_input(1) ? ctx->input<float>(1) : nullptr;
  const float* beta = ctx->has_input(2) ? ctx->input<float>(2) : nullptr;
  s->fn(s->p, ctx->input<float>(0), gamma, beta, ctx->output<float>(0), ctx->pool);
  return Status::Ok();
}

}  // namespace

extern const OpKernel kGroupNormKernel;
const OpKernel kGroupNormKernel = {Prepare, nullptr, Eval, DeleteState<State>};

}  // namespace edge
