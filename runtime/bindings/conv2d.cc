// Conv2d (NCHW) as im2col-into-packed-panels + GEMM per (image, group); the
// weights get the bias appended as an extra K column once, here. PatchEmbed
// (stride == kernel, no padding) takes the gather path of the same packer.
//
// On x86 (AVX2 / AVX-512) this path beats XNNPACK's convolution on every
// decoder shape measured (bench/results/conv_decoder.md). Where we have no
// SIMD GEMM (ARM for now) and the build has XNNPACK, its NHWC convolution
// runs instead, as for Linear, between two layout transposes in scratch.
// Either way each output is one sum in a fixed order: the same bits for any
// thread count.
//
// INT8 weights (edge-convert --conv-precision int8: Int8PerChannel, row-major
// OIHW, F32 bias) run W8A8 on the quantized GEMM (ops/qs8_conv2d.h), on every
// CPU. KernelSettings::precision fp32 dequantizes them once here and takes
// the F32 path (A/B runs); int8 / nvfp4 leave Conv2d as stored: they name
// the Linear weights.
#include <cmath>
#include <new>

#include "ops/f32_conv2d.h"
#include "ops/layout.h"
#include "ops/qs8_conv2d.h"
#include "runtime/kernel.h"
#include "runtime/kernel_settings.h"
#include "runtime/bindings/kernel_util.h"
#include "runtime/weight_format.h"

namespace edge {
namespace {

struct ConvState {
  const F32GemmConfig* cfg = nullptr;
  F32Conv2dParams p;
  size_t threads = 1;  // the scratch is sized for this many
  float* packed = nullptr;
  float* dequantized = nullptr;       // INT8 weights under the fp32 override
  const QGemmKernel* qkernel = nullptr;  // set: INT8 weights, qs8_conv2d
  uint8_t* qbuffer = nullptr;         // what qweights points into
  Qs8Conv2dWeights qweights;
#if defined(EDGE_WITH_XNNPACK)
  xnn_operator_t xnn = nullptr;
  StridedCopyPlan to_nhwc, to_nchw;  // x -> scratch, scratch -> y
  size_t x_floats = 0;               // the NHWC input's part of the scratch
#endif
};

void Destroy(void* p) {
  ConvState* s = static_cast<ConvState*>(p);
  if (s == nullptr) return;
#if defined(EDGE_WITH_XNNPACK)
  if (s->xnn != nullptr) xnn_delete_operator(s->xnn);
#endif
  delete[] s->packed;
  delete[] s->dequantized;
  delete[] s->qbuffer;
  delete s;
}

#if defined(EDGE_WITH_XNNPACK)
// XNNPACK's NHWC convolution with the weights in its OHWI layout (packed by
// XNNPACK at creation, so the OHWI copy is freed here); false: not taken.
bool PrepareXnn(KernelPrepareContext* ctx, ConvState* s, const float* w, const float* bias) {
  const F32Conv2dParams& p = s->p;
  if (!kernel_util::XnnReady()) return false;
  const size_t cg = p.in_c / p.groups, og = p.out_c / p.groups, taps = p.kernel_h * p.kernel_w;
  float* ohwi = new (std::nothrow) float[p.out_c * cg * taps + 1];
  if (ohwi == nullptr) return false;
  for (size_t o = 0; o < p.out_c; ++o)
    for (size_t c = 0; c < cg; ++c)
      for (size_t t = 0; t < taps; ++t) ohwi[(o * taps + t) * cg + c] = w[(o * cg + c) * taps + t];
  const fb::ConvOptions* o = ctx->node->op->options_as_ConvOptions();
  const xnn_status st = xnn_create_convolution2d_nhwc_f32(
      o->pad_top(), o->pad_right(), o->pad_bottom(), o->pad_left(), o->kernel_h(), o->kernel_w(), o->stride_h(),
      o->stride_w(), o->dilation_h(), o->dilation_w(), o->groups(), cg, og, p.in_c, p.out_c, ohwi, bias,
      -INFINITY, INFINITY, 0, &s->xnn);
  delete[] ohwi;
  if (st != xnn_status_success) {
    s->xnn = nullptr;
    return false;
  }
  const int64_t in_dims[3] = {static_cast<int64_t>(p.batch), static_cast<int64_t>(p.in_c),
                              static_cast<int64_t>(p.in_h * p.in_w)};
  const int64_t out_dims[3] = {static_cast<int64_t>(p.batch), static_cast<int64_t>(p.out_h * p.out_w),
                               static_cast<int64_t>(p.out_c)};
  const int perm[3] = {0, 2, 1};
  PlanTranspose(3, in_dims, perm, sizeof(float), &s->to_nhwc);
  PlanTranspose(3, out_dims, perm, sizeof(float), &s->to_nchw);
  s->x_floats = p.batch * p.in_c * p.in_h * p.in_w;
  ctx->scratch_bytes = (s->x_floats + p.batch * p.out_c * p.out_h * p.out_w) * sizeof(float);
  ctx->kernel_name = "xnnpack_convolution2d_nhwc_f32";
  return true;
}
#endif

// The convolution's shape from its options and tensors; checks what the
// validator leaves to the binding (shapes).
Status ReadParams(KernelPrepareContext* ctx, F32Conv2dParams* out) {
  const fb::ConvOptions* o = ctx->node->op->options_as_ConvOptions();
  const TensorInfo& x = kernel_util::In(ctx, 0);
  const TensorInfo& w = kernel_util::In(ctx, 1);
  const TensorInfo& y = kernel_util::Out(ctx, 0);
  char b1[96], b2[96];
  EDGE_CHECK_OR_RETURN(x.rank == 4 && w.rank == 4 && y.rank == 4, StatusCode::kInvalidModel,
                       "Conv2d: x %s, weight %s must be 4-D (NCHW, OIHW)", kernel_util::ShapeStr(x, b1),
                       kernel_util::ShapeStr(w, b2));
  EDGE_CHECK_OR_RETURN(o->kernel_h() >= 1 && o->kernel_w() >= 1 && o->stride_h() >= 1 &&
                           o->stride_w() >= 1 && o->dilation_h() >= 1 && o->dilation_w() >= 1 &&
                           o->groups() >= 1 && o->pad_top() >= 0 && o->pad_left() >= 0 &&
                           o->pad_bottom() >= 0 && o->pad_right() >= 0,
                       StatusCode::kInvalidModel, "Conv2d: bad kernel/stride/dilation/pad/groups");
  EDGE_CHECK_OR_RETURN(w.dims[2] == o->kernel_h() && w.dims[3] == o->kernel_w(),
                       StatusCode::kInvalidModel, "Conv2d: weight %s != kernel %dx%d",
                       kernel_util::ShapeStr(w, b1), o->kernel_h(), o->kernel_w());
  const int64_t g = o->groups();
  EDGE_CHECK_OR_RETURN(x.dims[1] % g == 0 && w.dims[0] % g == 0 && w.dims[1] * g == x.dims[1],
                       StatusCode::kInvalidModel,
                       "Conv2d: channels x %lld, weight %s do not fit groups %lld",
                       static_cast<long long>(x.dims[1]), kernel_util::ShapeStr(w, b1),
                       static_cast<long long>(g));
  F32Conv2dParams& p = *out;
  p.batch = static_cast<size_t>(x.dims[0]);
  p.in_c = static_cast<size_t>(x.dims[1]);
  p.in_h = static_cast<size_t>(x.dims[2]);
  p.in_w = static_cast<size_t>(x.dims[3]);
  p.out_c = static_cast<size_t>(w.dims[0]);
  p.kernel_h = o->kernel_h();
  p.kernel_w = o->kernel_w();
  p.stride_h = o->stride_h();
  p.stride_w = o->stride_w();
  p.pad_top = o->pad_top();
  p.pad_left = o->pad_left();
  p.dilation_h = o->dilation_h();
  p.dilation_w = o->dilation_w();
  p.groups = static_cast<size_t>(g);
  p.out_h = f32_conv2d_out_size(p.in_h, p.kernel_h, p.stride_h, p.pad_top, o->pad_bottom(),
                                p.dilation_h);
  p.out_w = f32_conv2d_out_size(p.in_w, p.kernel_w, p.stride_w, p.pad_left, o->pad_right(),
                                p.dilation_w);
  EDGE_CHECK_OR_RETURN(y.dims[0] == x.dims[0] && y.dims[1] == w.dims[0] &&
                           static_cast<size_t>(y.dims[2]) == p.out_h &&
                           static_cast<size_t>(y.dims[3]) == p.out_w,
                       StatusCode::kInvalidModel, "Conv2d: output %s, expected [%lld, %lld, %zu, %zu]",
                       kernel_util::ShapeStr(y, b1), static_cast<long long>(x.dims[0]),
                       static_cast<long long>(w.dims[0]), p.out_h, p.out_w);
  return Status::Ok();
}

// INT8 weights: per group N16K4 panels with per-channel arrays (the format's
// scales are validated: one finite FP32 per output channel).
Status PrepareInt8(KernelPrepareContext* ctx, ConvState* s, const TensorInfo& w, const float* bias) {
  const F32Conv2dParams& p = s->p;
  EDGE_CHECK_OR_RETURN(w.quant == fb::QuantScheme::Int8PerChannel && w.layout == fb::WeightLayout::RowMajor &&
                           w.scale_data != nullptr,
                       StatusCode::kUnsupported, "Conv2d: INT8 weight '%s' must be Int8PerChannel, row-major",
                       w.name);
  s->qbuffer = new (std::nothrow) uint8_t[qs8_conv2d_weight_bytes(p)];
  EDGE_CHECK_OR_RETURN(s->qbuffer != nullptr, StatusCode::kOutOfMemory,
                       "Conv2d: cannot allocate packed INT8 weights");
  qs8_conv2d_pack_weights(p, reinterpret_cast<const int8_t*>(w.data), reinterpret_cast<const float*>(w.scale_data),
                          bias, s->qbuffer, &s->qweights);
  s->qkernel = kernel_util::Kernels(ctx).qs8_gemm;
  ctx->scratch_bytes = qs8_conv2d_scratch_bytes(*s->qkernel, p, s->threads);
  ctx->kernel_name = qs8_conv2d_kernel_name(*s->qkernel, f32_conv2d_is_patchify(p));
  return Status::Ok();
}

// An INT8 weight as F32 OIHW (the format row's dequantize), for the fp32
// override; null if out of memory.
float* DequantizeInt8(const TensorInfo& w) {
  const size_t o = static_cast<size_t>(w.dims[0]), k = static_cast<size_t>(w.num_elements) / o;
  float* out = new (std::nothrow) float[o * k + 1];
  if (out != nullptr) WeightFormatOfDType(w.dtype)->dequantize(w.data, w.scale_data, w.tensor_scale, o, k, out);
  return out;
}

// F32 weights: our im2col + GEMM, or XNNPACK where we have no SIMD GEMM.
Status PrepareF32(KernelPrepareContext* ctx, ConvState* s, const float* w, const float* bias) {
  const F32Conv2dParams& p = s->p;
  const KernelConfig& kernels = kernel_util::Kernels(ctx);
  s->cfg = kernels.gemm;
#if defined(EDGE_WITH_XNNPACK)
  if (kernels.isa == IsaLevel::kScalar && PrepareXnn(ctx, s, w, bias)) return Status::Ok();
#endif
  s->packed = new (std::nothrow) float[f32_conv2d_packed_weight_floats(p) + 1];
  EDGE_CHECK_OR_RETURN(s->packed != nullptr, StatusCode::kOutOfMemory,
                       "Conv2d: cannot allocate packed weights");
  f32_conv2d_pack_weights(p, w, bias, s->packed);
  ctx->scratch_bytes = f32_conv2d_scratch_floats(*s->cfg, p, s->threads) * sizeof(float);
  ctx->kernel_name = f32_conv2d_is_patchify(p) ? kernels.conv2d_patchify : kernels.conv2d_im2col;
  return Status::Ok();
}

Status Prepare(KernelPrepareContext* ctx) {
  // Arity, dtypes (F32, or an Int8PerChannel weight) and the options are the
  // validator's; the shapes are ours.
  F32Conv2dParams p;
  EDGE_RETURN_IF_ERROR(ReadParams(ctx, &p));
  const TensorInfo& w = kernel_util::In(ctx, 1);
  const TensorInfo* bias = kernel_util::HasInput(ctx, 2) ? &kernel_util::In(ctx, 2) : nullptr;
  if (bias != nullptr) {
    char b1[96];
    EDGE_CHECK_OR_RETURN(bias->num_elements == w.dims[0], StatusCode::kInvalidModel,
                         "Conv2d: bias %s != [O=%lld]", kernel_util::ShapeStr(*bias, b1),
                         static_cast<long long>(w.dims[0]));
  }
  EDGE_CHECK_OR_RETURN(w.is_constant && (bias == nullptr || bias->is_constant),
                       StatusCode::kUnsupported, "Conv2d: weight and bias must be constants");

  ConvState* s = new (std::nothrow) ConvState;
  EDGE_CHECK_OR_RETURN(s != nullptr, StatusCode::kOutOfMemory, "Conv2d: out of memory");
  ctx->state = s;
  s->p = p;
  s->threads = kernel_util::Threads(ctx->pool);
  const float* bias_data = bias != nullptr ? reinterpret_cast<const float*>(bias->data) : nullptr;
  if (w.dtype != fb::DType::I8) return PrepareF32(ctx, s, reinterpret_cast<const float*>(w.data), bias_data);
  const PrecisionOverride ov =
      ctx->options != nullptr ? ctx->options->precision : PrecisionOverride::kAsStored;
  if (ov != PrecisionOverride::kFp32) return PrepareInt8(ctx, s, w, bias_data);
  s->dequantized = DequantizeInt8(w);
  EDGE_CHECK_OR_RETURN(s->dequantized != nullptr, StatusCode::kOutOfMemory, "Conv2d: out of memory");
  return PrepareF32(ctx, s, s->dequantized, bias_data);
}

// The XNNPACK operator reads and writes the scratch, whose address is
// fixed once the arena is: set up once here, not per run.
Status Bind(KernelEvalContext* ctx) {
#if defined(EDGE_WITH_XNNPACK)
  ConvState* s = static_cast<ConvState*>(ctx->state);
  if (s->xnn != nullptr) {
    float* x_nhwc = static_cast<float*>(ctx->scratch);
    const xnn_status st = xnn_setup_convolution2d_nhwc_f32(s->xnn, s->p.batch, s->p.in_h, s->p.in_w, x_nhwc,
                                                           x_nhwc + s->x_floats, ctx->pool);
    EDGE_CHECK_OR_RETURN(st == xnn_status_success, StatusCode::kInternal,
                         "Conv2d: xnn_setup_convolution2d_nhwc_f32 failed (%d)", static_cast<int>(st));
  }
#else
  (void)ctx;
#endif
  return Status::Ok();
}

Status Eval(KernelEvalContext* ctx) {
  ConvState* s = static_cast<ConvState*>(ctx->state);
#if defined(EDGE_WITH_XNNPACK)
  if (s->xnn != nullptr) {
    float* x_nhwc = static_cast<float*>(ctx->scratch);
    StridedCopy(s->to_nhwc, ctx->input<float>(0), x_nhwc, ctx->pool);
    const xnn_status st = xnn_run_operator(s->xnn, ctx->pool);
    EDGE_CHECK_OR_RETURN(st == xnn_status_success, StatusCode::kInternal,
                         "Conv2d: xnn_run_operator failed (%d)", static_cast<int>(st));
    StridedCopy(s->to_nchw, x_nhwc + s->x_floats, ctx->output<float>(0), ctx->pool);
    return Status::Ok();
  }
#endif
  if (s->qkernel != nullptr) {
    qs8_conv2d(*s->qkernel, s->p, s->threads, ctx->input<float>(0), s->qweights, ctx->output<float>(0),
               ctx->scratch, ctx->pool);
    return Status::Ok();
  }
  f32_conv2d(*s->cfg, s->p, s->threads, ctx->input<float>(0), s->packed, ctx->output<float>(0),
             static_cast<float*>(ctx->scratch), ctx->pool);
  return Status::Ok();
}

}  // namespace

extern const OpKernel kConv2dKernel;
const OpKernel kConv2dKernel = {Prepare, Bind, Eval, Destroy};

}  // namespace edge
