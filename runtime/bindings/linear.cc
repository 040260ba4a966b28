// Linear: y[.., N] = act(x[.., K] . W[N, K]^T + bias[N]).
//
// F32 weights stored packed (WeightLayout PackedF32N16, what edge-convert
// writes): the blocked GEMM of ops/f32_gemm.h reads them in place from the
// mapped file on every ISA (KernelConfig::gemm_p16), so loading copies nothing.
// Row-major F32 weights (older files, --fp32-layout row-major): on x86 with
// AVX2/AVX-512 the same GEMM
// (measured 208 GFLOP/s on one AVX-512 core vs XNNPACK's 168 for M=1024,
// K=768, N=3072). Where we have no SIMD GEMM for the native layout (ARM;
// AArch64's NEON kernel reads only the stored packed layout), XNNPACK's
// fully-connected operator when the build has it and W (and bias) are
// constants, with the activation as a separate vectorized pass (XNNPACK's
// clamp cannot express GELU/SiLU); otherwise the blocked GEMM
// of ops/f32_gemm.h with W packed once here (or per run into scratch when W
// is not a constant) and the activation fused into the microkernel.
// Quantized weights (I8 per channel / NVFP4) run on the integer kernels of
// runtime/quant_linear.h. KernelSettings::precision overrides what is stored, for
// A/B runs: fp32 dequantizes quantized weights once at prepare; int8 / nvfp4
// quantize F32 (or requantize the other format's) weights at prepare.
#include <cmath>
#include <cstring>
#include <new>

#include "ops/f32_gemm.h"
#include "runtime/kernel.h"
#include "runtime/bindings/kernel_util.h"
#include "runtime/quant_linear.h"
#include "runtime/kernel_settings.h"
#include "runtime/weight_format.h"

#if defined(EDGE_WITH_XNNPACK)
#include <xnnpack.h>
#endif

namespace edge {
namespace {

struct LinearState {
  QuantLinearState* quant = nullptr;  // set: integer kernels
  float* dequantized = nullptr;       // precision override fp32 of a quantized weight
  uint8_t* owned_w = nullptr;         // weights quantized at prepare (override)
  uint8_t* owned_scales = nullptr;
  const F32GemmConfig* cfg = nullptr;
  float* packed = nullptr;         // W packed here at prepare (row-major constant W)
  const float* weights = nullptr;  // what Eval reads: `packed` or the stored packed W;
                                   // null: W is not constant, packed into scratch per run
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
  if (s->quant != nullptr) DestroyQuantLinear(s->quant);
  delete[] s->dequantized;
  delete[] s->owned_w;
  delete[] s->owned_scales;
  delete s;
}

bool IsQuantized(const TensorInfo& w) {
  const QuantFormatTraits* f = WeightFormatOfDType(w.dtype);
  return f != nullptr && f->scale_kind != QuantScaleKind::kNone;
}

// A quantized or packed [N, K] weight as F32 (row-major); null if out of memory.
float* Dequantize(const TensorInfo& w) {
  const size_t n = static_cast<size_t>(w.dims[0]), k = static_cast<size_t>(w.dims[1]);
  float* out = new (std::nothrow) float[n * k + 1];
  if (out == nullptr) return nullptr;
  const QuantFormatTraits& f = *WeightFormatOfDType(w.dtype);
  const bool packed = w.layout != fb::WeightLayout::RowMajor && w.layout == PackedLayoutOf(f);
  (packed ? f.dequantize_packed : f.dequantize)(w.data, w.scale_data, w.tensor_scale, n, k, out);
  return out;
}

// Quantized path: the stored format, or `target` made at prepare from F32.
Status PrepareQuantized(KernelPrepareContext* ctx, fb::DType target) {
  const TensorInfo& w = kernel_util::In(ctx, 1);
  const TensorInfo& x = kernel_util::In(ctx, 0);
  EDGE_CHECK_OR_RETURN(w.rank == 2 && w.is_constant, StatusCode::kInvalidModel,
                       "Linear: a quantized weight must be a constant [N, K]");
  EDGE_CHECK_OR_RETURN(x.dtype == fb::DType::F32 && x.rank >= 1 && x.dim(-1) == w.dims[1],
                       StatusCode::kInvalidModel, "Linear: x must be F32 [.., K=%lld]",
                       static_cast<long long>(w.dims[1]));
  const TensorInfo* bias = kernel_util::HasInput(ctx, 2) ? &kernel_util::In(ctx, 2) : nullptr;
  fb::Activation act = fb::Activation::None;
  if (const fb::LinearOptions* o = ctx->node->op->options_as_LinearOptions()) act = o->activation();
  LinearState* s = new (std::nothrow) LinearState;
  EDGE_CHECK_OR_RETURN(s != nullptr, StatusCode::kOutOfMemory, "Linear: out of memory");
  ctx->state = s;
  const size_t n = static_cast<size_t>(w.dims[0]), k = static_cast<size_t>(w.dims[1]);
  const size_t m = k > 0 ? static_cast<size_t>(x.num_elements) / k : 0;
  TensorInfo use = w;
  if (w.dtype != target) {
    const float* src = reinterpret_cast<const float*>(w.data);
    if (IsQuantized(w) || w.layout != fb::WeightLayout::RowMajor) {
      s->dequantized = Dequantize(w);
      EDGE_CHECK_OR_RETURN(s->dequantized != nullptr, StatusCode::kOutOfMemory, "Linear: out of memory");
      src = s->dequantized;
    } else {
      EDGE_CHECK_OR_RETURN(w.dtype == fb::DType::F32, StatusCode::kInvalidModel,
                           "Linear: weight dtype %s cannot be quantized", DTypeName(w.dtype));
    }
    use.layout = fb::WeightLayout::RowMajor;
    use.dtype = target;
    const QuantFormatTraits& f = *WeightFormatOfDType(target);
    const size_t cb = QuantRowMajorBytes(f, n, k), sb = QuantRowMajorScaleBytes(f, n, k);
    s->owned_w = new (std::nothrow) uint8_t[cb + 1];
    s->owned_scales = new (std::nothrow) uint8_t[sb + 4];
    EDGE_CHECK_OR_RETURN(s->owned_w != nullptr && s->owned_scales != nullptr, StatusCode::kOutOfMemory,
                         "Linear: out of memory");
    float ts = 1.f;
    EDGE_RETURN_IF_ERROR(target == fb::DType::I8
                             ? QuantizeInt8PerChannel(src, n, k, reinterpret_cast<int8_t*>(s->owned_w),
                                                      reinterpret_cast<float*>(s->owned_scales))
                             : QuantizeNvfp4(src, n, k, s->owned_w, s->owned_scales, &ts));
    use.quant = SchemeOf(f);
    use.bytes = cb;
    use.scale_bytes = sb;
    use.tensor_scale = ts;
    use.block_size = static_cast<int>(f.scale_block);
    use.data = s->owned_w;
    use.scale_data = s->owned_scales;
  }
  // The quantized layer runs the activation itself (the vector pass of the
  // F32 GEMM, as after XNNPACK).
  s->m = m;
  s->n = n;
  EDGE_RETURN_IF_ERROR(CreateQuantLinear(use, bias, m, act, kernel_util::Kernels(ctx), &s->quant));
  ctx->kernel_name = QuantLinearKernelName(s->quant);
  ctx->scratch_bytes = QuantLinearScratchBytes(s->quant);
  return Status::Ok();
}

Status Prepare(KernelPrepareContext* ctx) {
  // The validator checked arity, dtypes (x, bias and y F32, the weight a
  // [N, K] weight format) and the activation; the shapes are ours.
  const TensorInfo& w_stored = kernel_util::In(ctx, 1);
  const PrecisionOverride ov =
      ctx->options != nullptr ? ctx->options->precision : PrecisionOverride::kAsStored;
  if (ov == PrecisionOverride::kInt8 && w_stored.is_constant) return PrepareQuantized(ctx, fb::DType::I8);
  if (ov == PrecisionOverride::kNvfp4 && w_stored.is_constant) return PrepareQuantized(ctx, fb::DType::NVFP4);
  if (IsQuantized(w_stored) && ov != PrecisionOverride::kFp32) return PrepareQuantized(ctx, w_stored.dtype);
  // F32 from here on: a quantized weight is dequantized once (fp32 override).
  TensorInfo w = w_stored;
  float* dequantized = nullptr;
  if (IsQuantized(w_stored)) {
    dequantized = Dequantize(w_stored);
    EDGE_CHECK_OR_RETURN(dequantized != nullptr, StatusCode::kOutOfMemory, "Linear: out of memory");
    w.dtype = fb::DType::F32;
    w.quant = fb::QuantScheme::None;
    w.layout = fb::WeightLayout::RowMajor;
    w.data = reinterpret_cast<const uint8_t*>(dequantized);
  }
  const TensorInfo& x = kernel_util::In(ctx, 0);
  const TensorInfo& y = kernel_util::Out(ctx, 0);
  char b1[96], b2[96];
  const bool stored_packed = w.layout == fb::WeightLayout::PackedF32N16;
  EDGE_CHECK_OR_RETURN(w.layout == fb::WeightLayout::RowMajor || (stored_packed && w.is_constant),
                       StatusCode::kUnsupported,
                       "Linear: F32 weight layout %s is not RowMajor or a constant PackedF32N16",
                       fb::EnumNameWeightLayout(w.layout));
  const size_t n = static_cast<size_t>(w.dims[0]), k = static_cast<size_t>(w.dims[1]);
  EDGE_CHECK_OR_RETURN(x.rank >= 1, StatusCode::kInvalidModel, "Linear: x is a scalar");
  EDGE_CHECK_OR_RETURN(x.dim(-1) == w.dims[1], StatusCode::kInvalidModel,
                       "Linear: x last dim %lld != weight K %lld", static_cast<long long>(x.dim(-1)),
                       static_cast<long long>(w.dims[1]));
  bool same = y.rank == x.rank && y.dim(-1) == w.dims[0];
  for (int i = 0; same && i + 1 < x.rank; ++i) same = y.dims[i] == x.dims[i];
  EDGE_CHECK_OR_RETURN(same, StatusCode::kInvalidModel,
                       "Linear: output shape %s != x %s with last dim N=%lld",
                       kernel_util::ShapeStr(y, b1), kernel_util::ShapeStr(x, b2),
                       static_cast<long long>(w.dims[0]));
  const TensorInfo* bias = nullptr;
  if (kernel_util::HasInput(ctx, 2)) {
    bias = &kernel_util::In(ctx, 2);
    EDGE_CHECK_OR_RETURN(bias->num_elements == w.dims[0] && bias->rank >= 1 &&
                             bias->dim(-1) == w.dims[0],
                         StatusCode::kInvalidModel, "Linear: bias %s != [N=%lld]",
                         kernel_util::ShapeStr(*bias, b1), static_cast<long long>(w.dims[0]));
  }
  const GemmActivation act =
      static_cast<GemmActivation>(ctx->node->op->options_as_LinearOptions()->activation());

  LinearState* s = new (std::nothrow) LinearState;
  if (s == nullptr) {
    delete[] dequantized;
    return Status::Error(StatusCode::kOutOfMemory, "Linear: out of memory");
  }
  ctx->state = s;
  s->dequantized = dequantized;
  s->cfg = stored_packed ? kernel_util::Kernels(ctx).gemm_p16 : kernel_util::Kernels(ctx).gemm;
  s->m = static_cast<size_t>(x.num_elements) / (k > 0 ? k : 1);
  if (k == 0) s->m = static_cast<size_t>(y.num_elements) / (n > 0 ? n : 1);
  s->n = n;
  s->k = k;
  s->act = act;

#if defined(EDGE_WITH_XNNPACK)
  // A stored packed weight stays in place wherever its kernel is a vector one
  // (AArch64 NEON, AVX2, AVX-512). Where it is the portable one (AArch32, x86
  // capped to scalar) XNNPACK's vector kernels win by far: they get a
  // row-major copy to pack from, as row-major weights do.
  const bool portable = kernel_util::Kernels(ctx).gemm_p16_portable;
  if (kernel_util::Isa(ctx) == IsaLevel::kScalar && w.is_constant && (!stored_packed || portable) &&
      (bias == nullptr || bias->is_constant) && k > 0 && n > 0 && kernel_util::XnnReady()) {
    float* rows = stored_packed ? Dequantize(w) : nullptr;
    EDGE_CHECK_OR_RETURN(!stored_packed || rows != nullptr, StatusCode::kOutOfMemory,
                         "Linear: out of memory");
    const xnn_status st = xnn_create_fully_connected_nc_f32(
        k, n, k, n, stored_packed ? rows : reinterpret_cast<const float*>(w.data),
        bias != nullptr ? reinterpret_cast<const float*>(bias->data) : nullptr, -INFINITY,
        INFINITY, 0, &s->xnn);
    delete[] rows;  // XNNPACK packed its own copy
    if (st == xnn_status_success) {
      ctx->kernel_name = "xnnpack_fully_connected_f32";
      return Status::Ok();
    }
    s->xnn = nullptr;  // fall back to our GEMM
  }
#endif
  ctx->kernel_name = s->cfg->name;
  if (stored_packed) {
    s->weights = reinterpret_cast<const float*>(w.data);  // validated: Np * K floats
    return Status::Ok();
  }
  const size_t packed_floats = f32_gemm_packed_floats(n, k, s->cfg->nr);
  if (w.is_constant) {
    s->packed = new (std::nothrow) float[packed_floats + 1];
    EDGE_CHECK_OR_RETURN(s->packed != nullptr, StatusCode::kOutOfMemory,
                         "Linear: cannot allocate %zu bytes of packed weights",
                         packed_floats * sizeof(float));
    f32_gemm_pack_nk(n, k, reinterpret_cast<const float*>(w.data), k, s->cfg->nr, s->packed);
    s->weights = s->packed;
  } else {
    ctx->scratch_bytes = packed_floats * sizeof(float);
  }
  return Status::Ok();
}

Status Bind(KernelEvalContext* ctx) {
#if defined(EDGE_WITH_XNNPACK)
  LinearState* s = static_cast<LinearState*>(ctx->state);
  if (s->quant == nullptr && s->xnn != nullptr) {
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

void ApplyActivation(const LinearState& s, float* y, pthreadpool_t pool) {
  f32_activation_parallel(s.cfg->activation, s.m * s.n, y, s.act, pool);
}

Status Eval(KernelEvalContext* ctx) {
  LinearState* s = static_cast<LinearState*>(ctx->state);
  float* y = ctx->output<float>(0);
  if (s->quant != nullptr) {
    RunQuantLinear(s->quant, ctx->input<float>(0), y, ctx->scratch, ctx->pool);
    return Status::Ok();
  }
#if defined(EDGE_WITH_XNNPACK)
  if (s->xnn != nullptr) {
    const xnn_status st = xnn_run_operator(s->xnn, ctx->pool);
    EDGE_CHECK_OR_RETURN(st == xnn_status_success, StatusCode::kInternal,
                         "Linear: xnn_run_operator failed (%d)", static_cast<int>(st));
    ApplyActivation(*s, y, ctx->pool);
    return Status::Ok();
  }
#endif
  const float* packed = s->weights;
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
