// MatMul: c[.., M, N] = a[.., M, K] . b[.., K, N] (b[.., N, K] with
// transpose_b), numpy broadcasting of the batch dims, on the blocked GEMM.
// A constant b without batch dims is packed once here; otherwise each run
// packs b (once per distinct b batch) into scratch.
#include <new>

#include "ops/f32_matmul.h"
#include "runtime/kernel.h"
#include "runtime/bindings/kernel_util.h"

namespace edge {
namespace {

struct MatMulState {
  const F32GemmConfig* cfg = nullptr;
  F32MatMulDims dims;
  float* packed = nullptr;
};

void Destroy(void* p) {
  MatMulState* s = static_cast<MatMulState*>(p);
  if (s == nullptr) return;
  delete[] s->packed;
  delete s;
}

Status Prepare(KernelPrepareContext* ctx) {
  // Arity and F32 dtypes are the validator's; the shapes are ours.
  const TensorInfo& a = kernel_util::In(ctx, 0);
  const TensorInfo& b = kernel_util::In(ctx, 1);
  const TensorInfo& c = kernel_util::Out(ctx, 0);
  char b1[96], b2[96], b3[96];
  EDGE_CHECK_OR_RETURN(a.rank >= 2 && b.rank >= 2, StatusCode::kUnsupported,
                       "MatMul: operands must have rank >= 2, got %s and %s",
                       kernel_util::ShapeStr(a, b1), kernel_util::ShapeStr(b, b2));
  const bool tb = ctx->node->op->options_as_MatMulOptions()->transpose_b();
  F32MatMulDims d;
  d.transpose_b = tb;
  d.m = static_cast<size_t>(a.dim(-2));
  d.k = static_cast<size_t>(a.dim(-1));
  const int64_t bk = tb ? b.dim(-1) : b.dim(-2);
  const int64_t bn = tb ? b.dim(-2) : b.dim(-1);
  EDGE_CHECK_OR_RETURN(bk == a.dim(-1), StatusCode::kInvalidModel,
                       "MatMul: a K %lld != b K %lld (a %s, b %s, transpose_b=%d)",
                       static_cast<long long>(a.dim(-1)), static_cast<long long>(bk),
                       kernel_util::ShapeStr(a, b1), kernel_util::ShapeStr(b, b2), tb ? 1 : 0);
  d.n = static_cast<size_t>(bn);
  const int br = c.rank - 2;
  EDGE_CHECK_OR_RETURN(br >= 0 && br <= kMatMulMaxBatchRank && a.rank - 2 <= br &&
                           b.rank - 2 <= br,
                       StatusCode::kInvalidModel, "MatMul: output rank %d does not fit inputs",
                       c.rank);
  d.batch_rank = br;
  bool ok = c.dim(-2) == a.dim(-2) && c.dim(-1) == bn;
  for (int i = 0; i < br && ok; ++i) {
    const int ia = i - (br - (a.rank - 2)), ib = i - (br - (b.rank - 2));
    const size_t da = ia >= 0 ? static_cast<size_t>(a.dims[ia]) : 1;
    const size_t db = ib >= 0 ? static_cast<size_t>(b.dims[ib]) : 1;
    const size_t dc = static_cast<size_t>(c.dims[i]);
    ok = (da == dc || da == 1) && (db == dc || db == 1);
    d.out_batch[i] = dc;
    d.a_batch[i] = da;
    d.b_batch[i] = db;
  }
  EDGE_CHECK_OR_RETURN(ok, StatusCode::kInvalidModel,
                       "MatMul: output %s does not match a %s . b %s (transpose_b=%d)",
                       kernel_util::ShapeStr(c, b3), kernel_util::ShapeStr(a, b1), kernel_util::ShapeStr(b, b2),
                       tb ? 1 : 0);

  MatMulState* s = new (std::nothrow) MatMulState;
  EDGE_CHECK_OR_RETURN(s != nullptr, StatusCode::kOutOfMemory, "MatMul: out of memory");
  ctx->state = s;
  s->cfg = kernel_util::Kernels(ctx).gemm;
  s->dims = d;
  ctx->kernel_name = s->cfg->name;
  const size_t floats = f32_matmul_scratch_floats(*s->cfg, d);
  if (b.is_constant && b.num_elements == static_cast<int64_t>(d.k * d.n)) {
    s->packed = new (std::nothrow) float[floats + 1];
    EDGE_CHECK_OR_RETURN(s->packed != nullptr, StatusCode::kOutOfMemory,
                         "MatMul: cannot allocate packed b");
    const float* bd = reinterpret_cast<const float*>(b.data);
    if (tb) {
      f32_gemm_pack_nk(d.n, d.k, bd, d.k, s->cfg->nr, s->packed);
    } else {
      f32_gemm_pack_kn(d.n, d.k, bd, d.n, s->cfg->nr, s->packed);
    }
  } else {
    ctx->scratch_bytes = floats * sizeof(float);
  }
  return Status::Ok();
}

Status Eval(KernelEvalContext* ctx) {
  MatMulState* s = static_cast<MatMulState*>(ctx->state);
  f32_matmul(*s->cfg, s->dims, ctx->input<float>(0), ctx->input<float>(1), s->packed,
             ctx->output<float>(0), static_cast<float*>(ctx->scratch), ctx->pool);
  return Status::Ok();
}

}  // namespace

extern const OpKernel kMatMulKernel;
const OpKernel kMatMulKernel = {Prepare, nullptr, Eval, Destroy};

}  // namespace edge
