// Modulate and GatedResidual bindings (adaLN):
//   Modulate      (x[B,..,D], shift, scale) -> x * (1 + scale) + shift
//   GatedResidual (x[B,..,D], gate, y[B,..,D]) -> x + gate * y
// The per-sample vectors are [B, D] or [B, 1, D] (one row per sample), or a
// single row ([D], [1, D], [1, 1, D]) shared by every sample.
#include "ops/f32_modulate.h"
#include "runtime/bindings/kernel_util.h"

namespace edge {
namespace {

using namespace kernel_util;

struct State {
  f32_modulate_fn modulate = nullptr;
  f32_gated_residual_fn gated = nullptr;
  size_t batch = 0, tokens = 0, dim = 0, param_stride = 0;
};

// Checks a per-sample parameter against x = [B, .., D]; sets *stride.
Status CheckParam(const KernelPrepareContext* ctx, const TensorInfo& p, const char* role,
                  const TensorInfo& x, size_t* stride) {
  const int64_t b = x.dims[0], d = x.dims[x.rank - 1];
  bool ok = p.rank >= 1 && p.rank <= 3 && p.dims[p.rank - 1] == d;
  for (int i = 1; ok && i + 1 < p.rank; ++i) ok = p.dims[i] == 1;
  const int64_t pb = p.rank >= 2 ? p.dims[0] : 1;
  ok = ok && (pb == b || pb == 1);
  if (!ok)
    return Invalid(ctx, "%s '%s' has shape %s; for input %s expected [%lld,%lld] or [%lld,1,%lld]",
                   role, p.name, Shape(p).text, Shape(x).text, static_cast<long long>(b),
                   static_cast<long long>(d), static_cast<long long>(b), static_cast<long long>(d));
  *stride = pb == 1 ? 0 : static_cast<size_t>(d);
  return Status::Ok();
}

Status PrepareCommon(KernelPrepareContext* ctx, const char* p1, const char* p2, bool gated) {
  const TensorInfo& x = In(ctx, 0);
  const TensorInfo& y = Out(ctx, 0);
  if (x.rank < 2) return Invalid(ctx, "input '%s' has shape %s; need [B, .., D]", x.name, Shape(x).text);
  EDGE_RETURN_IF_ERROR(CheckSameShape(ctx, x, "input", y, "output"));
  size_t s1 = 0, s2 = 0;
  EDGE_RETURN_IF_ERROR(CheckParam(ctx, In(ctx, 1), p1, x, &s1));
  if (gated) {
    EDGE_RETURN_IF_ERROR(CheckSameShape(ctx, In(ctx, 2), p2, x, "input"));
  } else {
    EDGE_RETURN_IF_ERROR(CheckParam(ctx, In(ctx, 2), p2, x, &s2));
    if (s1 != s2)
      return Invalid(ctx, "shift %s and scale %s must both be per-sample or both shared",
                     Shape(In(ctx, 1)).text, Shape(In(ctx, 2)).text);
  }
  State* s = nullptr;
  EDGE_RETURN_IF_ERROR(NewState(ctx, &s));
  s->batch = static_cast<size_t>(x.dims[0]);
  s->dim = static_cast<size_t>(x.dims[x.rank - 1]);
  s->tokens = static_cast<size_t>(Product(x, 1, x.rank - 1));
  s->param_stride = s1;
  if (gated) {
    s->gated = Kernels(ctx).gated_residual.fn;
    ctx->kernel_name = Kernels(ctx).gated_residual.name;
  } else {
    s->modulate = Kernels(ctx).modulate.fn;
    ctx->kernel_name = Kernels(ctx).modulate.name;
  }
  return Status::Ok();
}

Status PrepareModulate(KernelPrepareContext* ctx) { return PrepareCommon(ctx, "shift", "scale", false); }
Status PrepareGated(KernelPrepareContext* ctx) { return PrepareCommon(ctx, "gate", "residual", true); }

Status EvalModulate(KernelEvalContext* ctx) {
  const State* s = static_cast<const State*>(ctx->state);
  s->modulate(s->batch, s->tokens, s->dim, s->param_stride, ctx->input<float>(0), ctx->input<float>(1),
              ctx->input<float>(2), ctx->output<float>(0), ctx->pool);
  return Status::Ok();
}

Status EvalGated(KernelEvalContext* ctx) {
  const State* s = static_cast<const State*>(ctx->state);
  s->gated(s->batch, s->tokens, s->dim, s->param_stride, ctx->input<float>(0), ctx->input<float>(1),
           ctx->input<float>(2), ctx->output<float>(0), ctx->pool);
  return Status::Ok();
}

}  // namespace

extern const OpKernel kModulateKernel;
const OpKernel kModulateKernel = {PrepareModulate, nullptr, EvalModulate, DeleteState<State>};
extern const OpKernel kGatedResidualKernel;
const OpKernel kGatedResidualKernel = {PrepareGated, nullptr, EvalGated, DeleteState<State>};

}  // namespace edge
