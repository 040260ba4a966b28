// TimestepEmbedding and Embedding bindings.
//   TimestepEmbedding: t[B] (or [B,1]) f32 -> [B, dim] sinusoidal (DiT style)
//   Embedding: (ids[..] i32/i64, table[V, D] f32) -> [.., D]; an id outside
//   [0, V) makes eval fail with kInvalidArgument before any row is read.
#include <cmath>

#include "ops/embedding.h"
#include "runtime/bindings/kernel_util.h"

namespace edge {
namespace {

using namespace kernel_util;

struct TimestepState {
  size_t batch = 0;
  TimestepEmbeddingParams params;
};

// Arity, dtypes (ids I32/I64, the rest F32) and the option tables are the
// validator's (op_traits.cc); the shapes are ours.
Status PrepareTimestep(KernelPrepareContext* ctx) {
  const TensorInfo& t = In(ctx, 0);
  const TensorInfo& y = Out(ctx, 0);
  const fb::TimestepEmbeddingOptions* o = ctx->node->op->options_as_TimestepEmbeddingOptions();
  const int64_t batch = t.num_elements;
  if (t.rank < 1 || t.dims[0] != batch)
    return Invalid(ctx, "timesteps shape %s: expected [B] or [B, 1]", Shape(t).text);
  const int dim = o->dim() > 0 ? o->dim() : (y.rank == 2 ? static_cast<int>(y.dims[1]) : 0);
  if (y.rank != 2 || y.dims[0] != batch || y.dims[1] != dim || dim < 2)
    return Invalid(ctx, "output shape %s: expected [%lld, %d] (dim >= 2)", Shape(y).text,
                   static_cast<long long>(batch), dim);
  const double denom = static_cast<double>(dim / 2) - o->downscale_freq_shift();
  if (!(o->max_period() > 0.f) || !std::isfinite(o->max_period()) || !std::isfinite(o->scale()) ||
      !std::isfinite(o->downscale_freq_shift()) || denom == 0.0)
    return Invalid(ctx, "options max_period %g / downscale_freq_shift %g / scale %g give no valid frequencies",
                   o->max_period(), o->downscale_freq_shift(), o->scale());
  TimestepState* s = nullptr;
  EDGE_RETURN_IF_ERROR(NewState(ctx, &s));
  s->batch = static_cast<size_t>(batch);
  s->params.dim = dim;
  s->params.max_period = o->max_period();
  s->params.cos_first = o->cos_first();
  s->params.downscale_freq_shift = o->downscale_freq_shift();
  s->params.scale = o->scale();
  ctx->kernel_name = "f32_timestep_embedding_ref";
  return Status::Ok();
}

Status EvalTimestep(KernelEvalContext* ctx) {
  const TimestepState* s = static_cast<const TimestepState*>(ctx->state);
  f32_timestep_embedding_ref(s->batch, ctx->input<float>(0), s->params, ctx->output<float>(0));
  return Status::Ok();
}

struct EmbeddingState {
  bool i64 = false;
  size_t n = 0, dim = 0;
  int64_t vocab = 0;
};

Status PrepareEmbedding(KernelPrepareContext* ctx) {
  const TensorInfo& ids = In(ctx, 0);
  const TensorInfo& table = In(ctx, 1);
  const TensorInfo& y = Out(ctx, 0);
  if (table.rank != 2) return Invalid(ctx, "table shape %s: expected [V, D]", Shape(table).text);
  bool ok = y.rank == ids.rank + 1 && y.dims[y.rank - 1] == table.dims[1];
  for (int i = 0; ok && i < ids.rank; ++i) ok = y.dims[i] == ids.dims[i];
  if (!ok)
    return Invalid(ctx, "output shape %s: expected ids shape %s + [%lld]", Shape(y).text, Shape(ids).text,
                   static_cast<long long>(table.dims[1]));
  EmbeddingState* s = nullptr;
  EDGE_RETURN_IF_ERROR(NewState(ctx, &s));
  s->i64 = ids.dtype == fb::DType::I64;
  s->n = static_cast<size_t>(ids.num_elements);
  s->dim = static_cast<size_t>(table.dims[1]);
  s->vocab = table.dims[0];
  ctx->kernel_name = s->i64 ? "f32_embedding_i64" : "f32_embedding_i32";
  return Status::Ok();
}

Status EvalEmbedding(KernelEvalContext* ctx) {
  const EmbeddingState* s = static_cast<const EmbeddingState*>(ctx->state);
  int64_t bad = 0;
  const bool ok = s->i64 ? f32_embedding_i64(s->n, ctx->input<int64_t>(0), ctx->input<float>(1), s->vocab,
                                             s->dim, ctx->output<float>(0), &bad)
                         : f32_embedding_i32(s->n, ctx->input<int32_t>(0), ctx->input<float>(1), s->vocab,
                                             s->dim, ctx->output<float>(0), &bad);
  if (!ok)
    return Status::Error(StatusCode::kInvalidArgument, "Embedding: id %lld out of range [0, %lld)",
                         static_cast<long long>(bad), static_cast<long long>(s->vocab));
  return Status::Ok();
}

}  // namespace

extern const OpKernel kTimestepEmbeddingKernel;
const OpKernel kTimestepEmbeddingKernel = {PrepareTimestep, nullptr, EvalTimestep, DeleteState<TimestepState>};
extern const OpKernel kEmbeddingKernel;
const OpKernel kEmbeddingKernel = {PrepareEmbedding, nullptr, EvalEmbedding, DeleteState<EmbeddingState>};

}  // namespace edge
