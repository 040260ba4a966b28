// Linear: y[.., N] = act(x[.., K] . W[N, K]^T + bias[N]).
//
// F32 weights: on x86 with AVX2/AVX-512 the blocked GEMM of ops/f32_gemm.h
// (measured 208 GFLOP/s on one AVX-512 core vs XNNPACK's 168 for M=1024,
// K=768, N=3072). Where we have no SIMD GEMM (ARM for now), XNNPACK's
// fully-connected operator when the build has it and W (and bias) are
// constants, with the activation as a separate vectorized pass (XNNPACK's
// clamp cannot express GELU/SiLU); otherwise the blocked GEMM
// of ops/f32_gemm.h with W packed once here (or per run into scratch when W
// is not a constant) and the activation fused into the microkernel.
// Quantized weights (I8 / NVFP4) are not handled by this binding yet.
#include <cmath>
#include <new>

#include "ops/f32_gemm.h"
#include "runtime/kernel.h"
#include "runtime/kernels/dense_util.h"

#if defined(EDGE_WITH_XNNPACK)
#include <xnnpack.h>
#endif

namespace edge {
namespace {

struct LinearState {
  const F32GemmConfig* cfg = nullptr;
  float* packed = nullptr;  // null: W is not constant, packed into scratch per run
  size_t m = 0, n = 0, k = 0;
  GemmActivation act = GemmActivation::kNone;
#if defined(EDGE_WITH_XNNPACK)
  xnn_operator_t xnn = nullptr;
#endif
};

void Destroy(void* p) {
  LinearState* s = static_cast<LinearState*>(p);
  if (s == nullptr) return;
#if defined(EDGE_WITH_XNNPACK)
  if (s->xnn != nullptr) xnn_delete_operator(s->xnn);
#endif
  delete[] s->packed;
  delete s;
}

#if defined(EDGE_WITH_XNNPACK)
bool XnnReady() {
  static const bool ok = xnn_initialize(nullptr) == xnn_status_success;  // thread-safe static
  return ok;
}
#endif

Status Prepare(KernelPrepareContext* ctx) {
  static const char* const kNames[] = {"x", "weight", "bias"};
  const int nin = static_cast<int>(ctx->node->inputs.size());
  EDGE_CHECK_OR_RETURN(nin >= 2 && nin <= 3, StatusCode::kInvalidModel,
                       "Linear: expected 2 or 3 inputs, got %d", nin);
  EDGE_CHECK_OR_RETURN(dense::HasInput(ctx, 0) && dense::HasInput(ctx, 1),
                       StatusCode::kInvalidModel, "Linear: x and weight are required");
  const TensorInfo& w = dense::In(ctx, 1);
  EDGE_CHECK_OR_RETURN(w.dtype != fb::DType::I8 && w.dtype != fb::DType::NVFP4 &&
                           w.quant == fb::QuantScheme::None,
                       StatusCode::kUnsupported,
                       "Linear: quantized weight '%s' (%s) is not supported by this kernel",
                       w.name, DTypeName(w.dtype));
  EDGE_RETURN_IF_ERROR(dense::CheckArityF32(ctx, "Linear", 2, 3, kNames));
  const TensorInfo& x = dense::In(ctx, 0);
  const TensorInfo& y = dense::Out(ctx, 0);
  char b1[96], b2[96];
  EDGE_CHECK_OR_RETURN(w.rank == 2, StatusCode::kInvalidModel,
                       "Linear: weight must be [N, K], got %s", dense::ShapeStr(w, b1));
  EDGE_CHECK_OR_RETURN(w.layout == fb::WeightLayout::RowMajor, StatusCode::kUnsupported,
                       "Linear: F32 weight must be RowMajor");
  const size_t n = static_cast<size_t>(w.dims[0]), k = static_cast<size_t>(w.dims[1]);
  EDGE_CHECK_OR_RETURN(x.rank >= 1, StatusCode::kInvalidModel, "Linear: x is a scalar");
  EDGE_CHECK_OR_RETURN(x.dim(-1) == w.dims[1], StatusCode::kInvalidModel,
                       "Linear: x last dim %lld != weight K %lld", static_cast<long long>(x.dim(-1)),
                       static_cast<long long>(w.dims[1]));
  bool same = y.rank == x.rank && y.dim(-1) == w.dims[0];
  for (int i = 0; same && i + 1 < x.rank; ++i) same = y.dims[i] == x.dims[i];
  EDGE_CHECK_OR_RETURN(same, StatusCode::kInvalidModel,
                       "Linear: output shape %s != x %s with last dim N=%lld",
                       dense::ShapeStr(y, b1), dense::ShapeStr(x, b2),
                       static_cast<long long>(w.dims[0]));
  const TensorInfo* bias = nullptr;
  if (dense::HasInput(ctx, 2)) {
    bias = &dense::In(ctx, 2);
    EDGE_CHECK_OR_RETURN(bias->num_elements == w.dims[0] && bias->rank >= 1 &&
                             bias->dim(-1) == w.dims[0],
                         StatusCode::kInvalidModel, "Linear: bias %s != [N=%lld]",
                         dense::ShapeStr(*bias, b1), static_cast<long long>(w.dims[0]));
  }
  GemmActivation act = GemmActivation::kNone;
  if (const fb::LinearOptions* o = ctx->node->op->options_as_LinearOptions()) {
    act = static_cast<GemmActivation>(o->activation());
    EDGE_CHECK_OR_RETURN(static_cast<int>(act) >= 0 && static_cast<int>(act) <= 3,
                         StatusCode::kInvalidModel, "Linear: unknown activation %d",
                         static_cast<int>(act));
  }

  LinearState* s = new (std::nothrow) LinearState;
  EDGE_CHECK_OR_RETURN(s != nullptr, StatusCode::kOutOfMemory, "Linear: out of memory");
  ctx->state = s;
  s->cfg = &f32_gemm_config(dense::Isa(ctx));
  s->m = static_cast<size_t>(x.num_elements) / (k > 0 ? k : 1);
  if (k == 0) s->m = static_cast<size_t>(y.num_elements) / (n > 0 ? n : 1);
  s->n = n;
  s->k = k;
  s->act = act;

#if defined(EDGE_WITH_XNNPACK)
  if (dense::Isa(ctx) == IsaLevel::kScalar && w.is_constant &&
      (bias == nullptr || bias->is_constant) && k > 0 && n > 0 && XnnReady()) {
    const xnn_status st = xnn_create_fully_connected_nc_f32(
        k, n, k, n, reinterpret_cast<const float*>(w.data),
        bias != nullptr ? reinterpret_cast<const float*>(bias->data) : nullptr, -INFINITY,
        INFINITY, 0, &s->xnn);
    if (st == xnn_status_success) {
      ctx->kernel_name = "xnnpack_fully_connected_f32";
      return Status::Ok();
    }
    s->xnn = nullptr;  // fall back to our GEMM
  }
#endif
  ctx->kernel_name = s->cfg->name;
  const size_t packed_floats = f32_gemm_packed_floats(n, k, s->cfg->nr);
  if (w.is_constant) {
    s->packed = new (std::nothrow) float[packed_floats + 1];
    EDGE_CHECK_OR_RETURN(s->packed != nullptr, StatusCode::kOutOfMemory,
                         "Linear: cannot allocate %zu bytes of packed weights",
                         packed_floats * sizeof(float));
    f32_gemm_pack_nk(n, k, reinterpret_cast<const float*>(w.data), k, s->cfg->nr, s->packed);
  } else {
    ctx->scratch_bytes = packed_floats * sizeof(float);
  }
  return Status::Ok();
}

Status Bind(KernelEvalContext* ctx) {
#if defined(EDGE_WITH_XNNPACK)
  LinearState* s = static_cast<LinearState*>(ctx->state);
  if (s->xnn != nullptr) {
    const xnn_status st = xnn_setup_fully_connected_nc_f32(
        s->xnn, s->m, ctx->input<float>(0), ctx->output<float>(0), ctx->pool);
    EDGE_CHECK_OR_RETURN(st == xnn_status_success, StatusCode::kInternal,
                         "Linear: xnn_setup_fully_connected_nc_f32 failed (%d)",
                         static_cast<int>(st));
  }
#else
  (void)ctx;
#endif
  return Status::Ok();
}

struct ActTask {
  F32ActivationFn fn;
  float* y;
  int act;
};
void ActTile(void* ctx, size_t start, size_t count) {
  const ActTask& t = *static_cast<const ActTask*>(ctx);
  t.fn(count, t.y + start, t.act);
}

Status Eval(KernelEvalContext* ctx) {
  LinearState* s = static_cast<LinearState*>(ctx->state);
  float* y = ctx->output<float>(0);
#if defined(EDGE_WITH_XNNPACK)
  if (s->xnn != nullptr) {
    const xnn_status st = xnn_run_operator(s->xnn, ctx->pool);
    EDGE_CHECK_OR_RETURN(st == xnn_status_success, StatusCode::kInternal,
                         "Linear: xnn_run_operator failed (%d)", static_cast<int>(st));
    if (s->act != GemmActivation::kNone) {
      ActTask t = {s->cfg->activation, y, static_cast<int>(s->act)};
      const size_t total = s->m * s->n;
      if (dense::Threads(ctx->pool) > 1) {
        pthreadpool_parallelize_1d_tile_1d(ctx->pool, ActTile, &t, total, 16384, 0);
      } else {
        ActTile(&t, 0, total);
      }
    }
    return Status::Ok();
  }
#endif
  const float* packed = s->packed;
  if (packed == nullptr) {
    float* scratch = static_cast<float*>(ctx->scratch);
    f32_gemm_pack_nk(s->n, s->k, ctx->input<float>(1), s->k, s->cfg->nr, scratch);
    packed = scratch;
  }
  const float* bias = ctx->has_input(2) ? ctx->input<float>(2) : nullptr;
  f32_gemm_packed(*s->cfg, s->m, s->n, s->k, ctx->input<float>(0), s->k, packed, bias, y, s->n,
                  s->act, ctx->pool);
  return Status::Ok();
}

}  // namespace

extern const OpKernel kLinearKernel;
const OpKernel kLinearKernel = {Prepare, Bind, Eval, Destroy};

}  // namespace edge
