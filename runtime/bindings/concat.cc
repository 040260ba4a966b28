// Concat and Split bindings along AxisOptions.axis (default -1). Split's
// output sizes along the axis are the outputs' shapes. Any 1/2/4/8-byte dtype.
#include "ops/layout.h"
#include "runtime/bindings/kernel_util.h"

namespace edge {
namespace {

using namespace kernel_util;

// Per-part arrays are sized at prepare; eval only fills `ptrs`.
struct State {
  size_t outer = 0, row_bytes = 0, count = 0;
  size_t* chunk_bytes = nullptr;
  void** ptrs = nullptr;
  ~State() {
    delete[] chunk_bytes;
    delete[] ptrs;
  }
};

// `whole` is the concatenated tensor, `parts` the pieces (inputs of Concat,
// outputs of Split).
Status PrepareCommon(KernelPrepareContext* ctx, bool split) {
  const int n_parts = split ? NumOutputs(ctx) : NumInputs(ctx);
  // The validator checked the counts and that every part has whole's
  // unquantized dtype; it lets Concat inputs be absent, which we do not.
  if (!split)
    for (int i = 0; i < n_parts; ++i)
      if (!HasInput(ctx, i)) return Invalid(ctx, "required input %d is absent", i);
  const TensorInfo& whole = split ? In(ctx, 0) : Out(ctx, 0);
  const size_t esize = DTypeSize(whole.dtype);
  if (whole.rank < 1) return Invalid(ctx, "tensor '%s' is a scalar", whole.name);
  const fb::AxisOptions* o = ctx->node->op != nullptr ? ctx->node->op->options_as_AxisOptions() : nullptr;
  const int raw = o != nullptr ? o->axis() : -1;
  const int axis = NormalizeAxis(raw, whole.rank);
  if (axis < 0) return Invalid(ctx, "axis %d is out of range for %s", raw, Shape(whole).text);
  const int64_t inner = Product(whole, axis + 1, whole.rank);
  int64_t total = 0;
  for (int i = 0; i < n_parts; ++i) {
    const TensorInfo& p = split ? Out(ctx, i) : In(ctx, i);
    bool ok = p.rank == whole.rank;
    for (int d = 0; ok && d < whole.rank; ++d) ok = d == axis || p.dims[d] == whole.dims[d];
    if (!ok)
      return Invalid(ctx, "part %d shape %s does not match %s except on axis %d", i, Shape(p).text,
                     Shape(whole).text, axis);
    total += p.dims[axis];
  }
  if (total != whole.dims[axis])
    return Invalid(ctx, "parts add up to %lld along axis %d, but %s has %lld", static_cast<long long>(total),
                   axis, Shape(whole).text, static_cast<long long>(whole.dims[axis]));
  State* s = nullptr;
  EDGE_RETURN_IF_ERROR(NewState(ctx, &s));
  s->count = static_cast<size_t>(n_parts);
  s->chunk_bytes = new (std::nothrow) size_t[s->count];
  s->ptrs = new (std::nothrow) void*[s->count];
  if (s->chunk_bytes == nullptr || s->ptrs == nullptr)
    return Status::Error(StatusCode::kOutOfMemory, "%s: cannot allocate kernel state", OpTypeName(ctx));
  for (int i = 0; i < n_parts; ++i) {
    const TensorInfo& p = split ? Out(ctx, i) : In(ctx, i);
    s->chunk_bytes[i] = static_cast<size_t>(p.dims[axis] * inner) * esize;
  }
  s->outer = static_cast<size_t>(Product(whole, 0, axis));
  s->row_bytes = static_cast<size_t>(whole.dims[axis] * inner) * esize;
  ctx->kernel_name = split ? "split_rows" : "concat_rows";
  return Status::Ok();
}

Status PrepareConcat(KernelPrepareContext* ctx) { return PrepareCommon(ctx, false); }
Status PrepareSplit(KernelPrepareContext* ctx) { return PrepareCommon(ctx, true); }

Status EvalConcat(KernelEvalContext* ctx) {
  State* s = static_cast<State*>(ctx->state);
  for (size_t i = 0; i < s->count; ++i) s->ptrs[i] = const_cast<void*>(ctx->input<void>(static_cast<int>(i)));
  ConcatRows(s->outer, s->count, s->ptrs, s->chunk_bytes, s->row_bytes, ctx->output<void>(0), ctx->pool);
  return Status::Ok();
}

Status EvalSplit(KernelEvalContext* ctx) {
  State* s = static_cast<State*>(ctx->state);
  for (size_t i = 0; i < s->count; ++i) s->ptrs[i] = ctx->output<void>(static_cast<int>(i));
  SplitRows(s->outer, s->count, ctx->input<void>(0), s->row_bytes, s->ptrs, s->chunk_bytes, ctx->pool);
  return Status::Ok();
}

}  // namespace

extern const OpKernel kConcatKernel;
const OpKernel kConcatKernel = {PrepareConcat, nullptr, EvalConcat, DeleteState<State>};
extern const OpKernel kSplitKernel;
const OpKernel kSplitKernel = {PrepareSplit, nullptr, EvalSplit, DeleteState<State>};

}  // namespace edge
