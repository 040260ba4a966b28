// RoPE: x rotated per head with per-token cos/sin tables [N, dh] (leading
// dims of size 1 allowed), rotate-half or interleaved pairs, BSHD or BHSD.
#include <new>

#include "ops/f32_rope.h"
#include "runtime/kernel.h"
#include "runtime/bindings/kernel_util.h"

namespace edge {
namespace {

void Destroy(void* p) { delete static_cast<F32RopeParams*>(p); }

bool IsTable(const TensorInfo& t, int64_t n, int64_t dh) {
  if (t.rank < 2 || t.dim(-2) != n || t.dim(-1) != dh) return false;
  for (int i = 0; i + 2 < t.rank; ++i) {
    if (t.dims[i] != 1) return false;
  }
  return true;
}

Status Prepare(KernelPrepareContext* ctx) {
  // Arity, F32 dtypes and the options are the validator's; the shapes are ours.
  const fb::RopeOptions* o = ctx->node->op->options_as_RopeOptions();
  const int64_t H = o->num_heads();
  const TensorInfo& x = kernel_util::In(ctx, 0);
  const TensorInfo& c = kernel_util::In(ctx, 1);
  const TensorInfo& s = kernel_util::In(ctx, 2);
  const TensorInfo& y = kernel_util::Out(ctx, 0);
  char b1[96], b2[96];
  const bool bshd = o->layout() == fb::TensorLayout::BSHD;
  const int rank = bshd ? 3 : 4;
  EDGE_CHECK_OR_RETURN(H >= 1, StatusCode::kInvalidModel, "RoPE: num_heads < 1");
  EDGE_CHECK_OR_RETURN(x.rank == rank && y.rank == rank, StatusCode::kInvalidModel,
                       "RoPE: %s layout needs a rank-%d x, got %s", bshd ? "BSHD" : "BHSD", rank,
                       kernel_util::ShapeStr(x, b1));
  for (int i = 0; i < rank; ++i) {
    EDGE_CHECK_OR_RETURN(y.dims[i] == x.dims[i], StatusCode::kInvalidModel,
                         "RoPE: output %s != x %s", kernel_util::ShapeStr(y, b1),
                         kernel_util::ShapeStr(x, b2));
  }
  F32RopeParams p;
  p.batch = static_cast<size_t>(x.dims[0]);
  p.heads = static_cast<size_t>(H);
  p.layout = bshd ? AttentionLayout::kBSHD : AttentionLayout::kBHSD;
  p.interleaved = o->interleaved();
  if (bshd) {
    EDGE_CHECK_OR_RETURN(x.dims[2] % H == 0, StatusCode::kInvalidModel,
                         "RoPE: x width %lld is not a multiple of num_heads %lld",
                         static_cast<long long>(x.dims[2]), static_cast<long long>(H));
    p.tokens = static_cast<size_t>(x.dims[1]);
    p.head_dim = static_cast<size_t>(x.dims[2] / H);
  } else {
    EDGE_CHECK_OR_RETURN(x.dims[1] == H, StatusCode::kInvalidModel,
                         "RoPE: x heads %lld != num_heads %lld",
                         static_cast<long long>(x.dims[1]), static_cast<long long>(H));
    p.tokens = static_cast<size_t>(x.dims[2]);
    p.head_dim = static_cast<size_t>(x.dims[3]);
  }
  EDGE_CHECK_OR_RETURN(p.head_dim % 2 == 0, StatusCode::kInvalidModel,
                       "RoPE: head dim %zu is odd", p.head_dim);
  const int64_t n = static_cast<int64_t>(p.tokens), dh = static_cast<int64_t>(p.head_dim);
  EDGE_CHECK_OR_RETURN(IsTable(c, n, dh) && IsTable(s, n, dh), StatusCode::kInvalidModel,
                       "RoPE: cos %s / sin %s must be [N=%lld, dh=%lld]", kernel_util::ShapeStr(c, b1),
                       kernel_util::ShapeStr(s, b2), static_cast<long long>(n),
                       static_cast<long long>(dh));
  F32RopeParams* st = new (std::nothrow) F32RopeParams(p);
  EDGE_CHECK_OR_RETURN(st != nullptr, StatusCode::kOutOfMemory, "RoPE: out of memory");
  ctx->state = st;
  ctx->kernel_name = "f32_rope";
  return Status::Ok();
}

Status Eval(KernelEvalContext* ctx) {
  const F32RopeParams& p = *static_cast<const F32RopeParams*>(ctx->state);
  f32_rope(p, ctx->input<float>(0), ctx->input<float>(1), ctx->input<float>(2),
           ctx->output<float>(0), ctx->pool);
  return Status::Ok();
}

}  // namespace

extern const OpKernel kRoPEKernel;
const OpKernel kRoPEKernel = {Prepare, nullptr, Eval, Destroy};

}  // namespace edge
