// Upsample binding: nearest, x[..., H, W] -> y[..., H*fh, W*fw] with integer
// factors read from the output shape (the leading axes must match).
#include "ops/f32_upsample.h"
#include "runtime/bindings/kernel_util.h"

namespace edge {
namespace {

using namespace kernel_util;

struct State {
  F32UpsampleParams p;
};

Status Prepare(KernelPrepareContext* ctx) {
  const TensorInfo& x = In(ctx, 0);
  const TensorInfo& y = Out(ctx, 0);
  bool ok = x.rank >= 2 && y.rank == x.rank;
  for (int d = 0; ok && d < x.rank - 2; ++d) ok = x.dims[d] == y.dims[d];
  for (int d = x.rank - 2; ok && d < x.rank; ++d)
    ok = x.dims[d] >= 1 && y.dims[d] >= x.dims[d] && y.dims[d] % x.dims[d] == 0;
  if (!ok)
    return Invalid(ctx, "output %s is not input %s scaled by integer factors on the last two axes",
                   Shape(y).text, Shape(x).text);
  State* s = nullptr;
  EDGE_RETURN_IF_ERROR(NewState(ctx, &s));
  s->p.outer = static_cast<size_t>(Product(x, 0, x.rank - 2));
  s->p.in_h = static_cast<size_t>(x.dims[x.rank - 2]);
  s->p.in_w = static_cast<size_t>(x.dims[x.rank - 1]);
  s->p.factor_h = static_cast<size_t>(y.dims[y.rank - 2] / x.dims[x.rank - 2]);
  s->p.factor_w = static_cast<size_t>(y.dims[y.rank - 1] / x.dims[x.rank - 1]);
  ctx->kernel_name = "f32_upsample_nearest";
  return Status::Ok();
}

Status Eval(KernelEvalContext* ctx) {
  const State* s = static_cast<const State*>(ctx->state);
  f32_upsample_nearest(s->p, ctx->input<float>(0), ctx->output<float>(0), ctx->pool);
  return Status::Ok();
}

}  // namespace

extern const OpKernel kUpsampleKernel;
const OpKernel kUpsampleKernel = {Prepare, nullptr, Eval, DeleteState<State>};

}  // namespace edge
