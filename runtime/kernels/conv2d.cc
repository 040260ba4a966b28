// Conv2d (NCHW) as im2col-into-packed-panels + GEMM per (image, group); the
// weights get the bias appended as an extra K column once, here. PatchEmbed
// (stride == kernel, no padding) takes the gather path of the same packer.
#include <new>

#include "ops/f32_conv2d.h"
#include "runtime/kernel.h"
#include "runtime/kernels/dense_util.h"

namespace edge {
namespace {

struct ConvState {
  const F32GemmConfig* cfg = nullptr;
  F32Conv2dParams p;
  float* packed = nullptr;
};

void Destroy(void* p) {
  ConvState* s = static_cast<ConvState*>(p);
  if (s == nullptr) return;
  delete[] s->packed;
  delete s;
}

const char* Name(IsaLevel l, bool patch) {
  switch (l) {
    case IsaLevel::kAvx512: return patch ? "f32_conv2d_patchify_gemm_8x32__avx512" : "f32_conv2d_im2col_gemm_8x32__avx512";
    case IsaLevel::kAvx2: return patch ? "f32_conv2d_patchify_gemm_6x16__avx2" : "f32_conv2d_im2col_gemm_6x16__avx2";
    default: return patch ? "f32_conv2d_patchify_gemm_4x4__scalar" : "f32_conv2d_im2col_gemm_4x4__scalar";
  }
}

Status Prepare(KernelPrepareContext* ctx) {
  static const char* const kNames[] = {"x", "weight", "bias"};
  EDGE_RETURN_IF_ERROR(dense::CheckArityF32(ctx, "Conv2d", 2, 3, kNames));
  const fb::ConvOptions* o = ctx->node->op->options_as_ConvOptions();
  EDGE_CHECK_OR_RETURN(o != nullptr, StatusCode::kInvalidModel, "Conv2d: missing ConvOptions");
  const TensorInfo& x = dense::In(ctx, 0);
  const TensorInfo& w = dense::In(ctx, 1);
  const TensorInfo& y = dense::Out(ctx, 0);
  char b1[96], b2[96];
  EDGE_CHECK_OR_RETURN(x.rank == 4 && w.rank == 4 && y.rank == 4, StatusCode::kInvalidModel,
                       "Conv2d: x %s, weight %s must be 4-D (NCHW, OIHW)", dense::ShapeStr(x, b1),
                       dense::ShapeStr(w, b2));
  EDGE_CHECK_OR_RETURN(o->kernel_h() >= 1 && o->kernel_w() >= 1 && o->stride_h() >= 1 &&
                           o->stride_w() >= 1 && o->dilation_h() >= 1 && o->dilation_w() >= 1 &&
                           o->groups() >= 1 && o->pad_top() >= 0 && o->pad_left() >= 0 &&
                           o->pad_bottom() >= 0 && o->pad_right() >= 0,
                       StatusCode::kInvalidModel, "Conv2d: bad kernel/stride/dilation/pad/groups");
  EDGE_CHECK_OR_RETURN(w.dims[2] == o->kernel_h() && w.dims[3] == o->kernel_w(),
                       StatusCode::kInvalidModel, "Conv2d: weight %s != kernel %dx%d",
                       dense::ShapeStr(w, b1), o->kernel_h(), o->kernel_w());
  const int64_t g = o->groups();
  EDGE_CHECK_OR_RETURN(x.dims[1] % g == 0 && w.dims[0] % g == 0 && w.dims[1] * g == x.dims[1],
                       StatusCode::kInvalidModel,
                       "Conv2d: channels x %lld, weight %s do not fit groups %lld",
                       static_cast<long long>(x.dims[1]), dense::ShapeStr(w, b1),
                       static_cast<long long>(g));
  F32Conv2dParams p;
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
                       dense::ShapeStr(y, b1), static_cast<long long>(x.dims[0]),
                       static_cast<long long>(w.dims[0]), p.out_h, p.out_w);
  const TensorInfo* bias = dense::HasInput(ctx, 2) ? &dense::In(ctx, 2) : nullptr;
  if (bias != nullptr) {
    EDGE_CHECK_OR_RETURN(bias->num_elements == w.dims[0], StatusCode::kInvalidModel,
                         "Conv2d: bias %s != [O=%lld]", dense::ShapeStr(*bias, b1),
                         static_cast<long long>(w.dims[0]));
  }
  EDGE_CHECK_OR_RETURN(w.is_constant && (bias == nullptr || bias->is_constant),
                       StatusCode::kUnsupported, "Conv2d: weight and bias must be constants");

  ConvState* s = new (std::nothrow) ConvState;
  EDGE_CHECK_OR_RETURN(s != nullptr, StatusCode::kOutOfMemory, "Conv2d: out of memory");
  ctx->state = s;
  const IsaLevel isa = dense::Isa(ctx);
  s->cfg = &f32_gemm_config(isa);
  s->p = p;
  s->packed = new (std::nothrow) float[f32_conv2d_packed_weight_floats(p) + 1];
  EDGE_CHECK_OR_RETURN(s->packed != nullptr, StatusCode::kOutOfMemory,
                       "Conv2d: cannot allocate packed weights");
  f32_conv2d_pack_weights(p, reinterpret_cast<const float*>(w.data),
                          bias != nullptr ? reinterpret_cast<const float*>(bias->data) : nullptr,
                          s->packed);
  ctx->scratch_bytes = f32_conv2d_scratch_floats(*s->cfg, p) * sizeof(float);
  ctx->kernel_name = Name(isa, f32_conv2d_is_patchify(p));
  return Status::Ok();
}

Status Eval(KernelEvalContext* ctx) {
  ConvState* s = static_cast<ConvState*>(ctx->state);
  f32_conv2d(*s->cfg, s->p, ctx->input<float>(0), s->packed, ctx->output<float>(0),
             static_cast<float*>(ctx->scratch), ctx->pool);
  return Status::Ok();
}

}  // namespace

extern const OpKernel kConv2dKernel;
const OpKernel kConv2dKernel = {Prepare, nullptr, Eval, Destroy};

}  // namespace edge
