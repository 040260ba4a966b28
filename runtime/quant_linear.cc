#include "runtime/quant_linear.h"

#include <cmath>
#include <cstring>
#include <new>

#include "ops/f32_gemm.h"

namespace edge {

struct QuantLinearState {
  const QGemmKernel* kernel = nullptr;
  bool nvfp4 = false;
  size_t M = 0, N = 0, K = 0;
  // Activation: the vector pass of the F32 GEMM for this CPU, so that every
  // Linear (and the calibrator measuring it) computes the same GELU / SiLU.
  F32ActivationFn act_fn = nullptr;
  GemmActivation activation = GemmActivation::kNone;
  // Packed weights: `w`/`w_scales` point into the model or into `owned_*`.
  const uint8_t* w = nullptr;
  const uint8_t* w_scales = nullptr;  // nvfp4
  uint8_t* owned_w = nullptr;
  uint8_t* owned_scales = nullptr;
  float* w_scale = nullptr;  // int8: [Np]
  int32_t* w_corr = nullptr; // int8 u8-activation kernels: [Np]
  float* bias = nullptr;     // [Np], zeros when absent
  float tensor_half = 0.0f;
  size_t scratch = 0;
};

void DestroyQuantLinear(QuantLinearState* s) {
  if (s == nullptr) return;
  delete[] s->owned_w;
  delete[] s->owned_scales;
  delete[] s->w_scale;
  delete[] s->w_corr;
  delete[] s->bias;
  delete s;
}

namespace {

struct StateDeleter {
  QuantLinearState* s;
  ~StateDeleter() { DestroyQuantLinear(s); }
};

template <typename T>
T* NewArray(size_t n) {
  T* p = new (std::nothrow) T[n];
  if (p != nullptr) std::memset(p, 0, n * sizeof(T));
  return p;
}

Status SetupInt8(const TensorInfo& w, size_t N, size_t K, QuantLinearState* s) {
  EDGE_CHECK_OR_RETURN(w.quant == fb::QuantScheme::Int8PerChannel, StatusCode::kUnsupported,
                       "int8 weight '%s' needs Int8PerChannel quantization", w.name);
  EDGE_CHECK_OR_RETURN(w.scale_data != nullptr && w.scale_bytes == N * sizeof(float),
                       StatusCode::kInvalidModel, "weight '%s': expected %zu per-channel scales",
                       w.name, N);
  const size_t Np = RoundUp(N, 16);
  s->w_scale = NewArray<float>(Np);
  s->w_corr = NewArray<int32_t>(Np);
  EDGE_CHECK_OR_RETURN(s->w_scale && s->w_corr, StatusCode::kOutOfMemory, "quantized linear state");
  std::memcpy(s->w_scale, w.scale_data, N * sizeof(float));
  for (size_t n = 0; n < N; ++n) {
    EDGE_CHECK_OR_RETURN(std::isfinite(s->w_scale[n]), StatusCode::kInvalidModel,
                         "weight '%s': non-finite scale at channel %zu", w.name, n);
  }
  const QuantFormatTraits& f = QuantFormatOf(QuantFormat::kQs8);
  const size_t packed_bytes = QuantPackedBytes(f, N, K);
  if (w.layout == fb::WeightLayout::PackedInt8N16K4) {
    EDGE_CHECK_OR_RETURN(w.bytes >= packed_bytes, StatusCode::kInvalidModel,
                         "weight '%s': packed int8 needs %zu bytes, has %zu", w.name, packed_bytes,
                         w.bytes);
    s->w = w.data;
  } else {
    EDGE_CHECK_OR_RETURN(w.layout == fb::WeightLayout::RowMajor, StatusCode::kUnsupported,
                         "weight '%s': layout not usable for int8", w.name);
    EDGE_CHECK_OR_RETURN(w.bytes >= QuantRowMajorBytes(f, N, K), StatusCode::kInvalidModel,
                         "weight '%s': too small", w.name);
    s->owned_w = NewArray<uint8_t>(packed_bytes);
    EDGE_CHECK_OR_RETURN(s->owned_w, StatusCode::kOutOfMemory, "packing weight '%s'", w.name);
    Qs8PackN16K4(reinterpret_cast<const int8_t*>(w.data), N, K, s->owned_w);
    s->w = s->owned_w;
  }
  Qs8ColumnCorrection(s->w, N, K, s->w_corr);
  return Status::Ok();
}

Status SetupNvfp4(const TensorInfo& w, size_t N, size_t K, QuantLinearState* s) {
  const QuantFormatTraits& f = QuantFormatOf(QuantFormat::kNvfp4);
  EDGE_CHECK_OR_RETURN(w.quant == fb::QuantScheme::NVFP4 && w.block_size == static_cast<int>(f.scale_block),
                       StatusCode::kUnsupported, "NVFP4 weight '%s' needs NVFP4 quantization, block 16",
                       w.name);
  EDGE_CHECK_OR_RETURN(std::isfinite(w.tensor_scale), StatusCode::kInvalidModel,
                       "weight '%s': non-finite tensor scale", w.name);
  EDGE_CHECK_OR_RETURN(w.scale_data != nullptr, StatusCode::kInvalidModel, "weight '%s': no block scales",
                       w.name);
  s->tensor_half = 0.5f * w.tensor_scale;
  // The kernels decode E4M3 scales arithmetically for 0x00..0x7E; NaN codes
  // and negative scales (never written by our quantizer) are refused here.
  for (size_t i = 0; i < w.scale_bytes; ++i) {
    EDGE_CHECK_OR_RETURN(w.scale_data[i] <= 0x7E, StatusCode::kInvalidModel,
                         "weight '%s': E4M3 block scale byte 0x%02x (NaN or negative) at %zu", w.name,
                         w.scale_data[i], i);
  }
  const size_t code_bytes = QuantPackedBytes(f, N, K), scale_bytes = QuantPackedScaleBytes(f, N, K);
  if (w.layout == fb::WeightLayout::PackedNvfp4N16K64) {
    EDGE_CHECK_OR_RETURN(w.bytes >= code_bytes && w.scale_bytes >= scale_bytes, StatusCode::kInvalidModel,
                         "weight '%s': packed NVFP4 needs %zu + %zu bytes", w.name, code_bytes, scale_bytes);
    s->w = w.data;
    s->w_scales = w.scale_data;
  } else {
    EDGE_CHECK_OR_RETURN(w.layout == fb::WeightLayout::RowMajor, StatusCode::kUnsupported,
                         "weight '%s': layout not usable for NVFP4", w.name);
    EDGE_CHECK_OR_RETURN(w.bytes >= QuantRowMajorBytes(f, N, K) && w.scale_bytes >= QuantRowMajorScaleBytes(f, N, K),
                         StatusCode::kInvalidModel, "weight '%s': too small", w.name);
    s->owned_w = NewArray<uint8_t>(code_bytes);
    s->owned_scales = NewArray<uint8_t>(scale_bytes);
    EDGE_CHECK_OR_RETURN(s->owned_w && s->owned_scales, StatusCode::kOutOfMemory, "packing weight '%s'",
                         w.name);
    f.pack(w.data, w.scale_data, N, K, s->owned_w, s->owned_scales);
    s->w = s->owned_w;
    s->w_scales = s->owned_scales;
  }
  return Status::Ok();
}

}  // namespace

Status CreateQuantLinear(const TensorInfo& w, const TensorInfo* bias, size_t M,
                         fb::Activation activation, const KernelConfig& kernels,
                         QuantLinearState** out) {
  *out = nullptr;
  EDGE_CHECK_OR_RETURN(w.rank == 2 && w.dims[0] > 0 && w.dims[1] > 0, StatusCode::kInvalidModel,
                       "quantized weight '%s' must be [N, K]", w.name);
  EDGE_CHECK_OR_RETURN(w.data != nullptr, StatusCode::kUnsupported,
                       "quantized weight '%s' must be a constant", w.name);
  const size_t N = static_cast<size_t>(w.dims[0]), K = static_cast<size_t>(w.dims[1]);
  QuantLinearState* s = new (std::nothrow) QuantLinearState();
  EDGE_CHECK_OR_RETURN(s != nullptr, StatusCode::kOutOfMemory, "quantized linear state");
  StateDeleter guard{s};
  s->M = M;
  s->N = N;
  s->K = K;
  s->activation = static_cast<GemmActivation>(activation);
  s->act_fn = kernels.gemm->activation;
  if (w.dtype == fb::DType::I8) {
    EDGE_RETURN_IF_ERROR(SetupInt8(w, N, K, s));
    s->kernel = kernels.qs8_gemm;
  } else if (w.dtype == fb::DType::NVFP4) {
    s->nvfp4 = true;
    EDGE_RETURN_IF_ERROR(SetupNvfp4(w, N, K, s));
    s->kernel = kernels.qnvfp4_gemm;
  } else {
    return Status::Error(StatusCode::kUnsupported, "weight '%s': dtype %d is not quantized", w.name,
                         static_cast<int>(w.dtype));
  }
  s->bias = NewArray<float>(RoundUp(N, 16));
  EDGE_CHECK_OR_RETURN(s->bias != nullptr, StatusCode::kOutOfMemory, "quantized linear bias");
  if (bias != nullptr) {
    EDGE_CHECK_OR_RETURN(bias->dtype == fb::DType::F32 && bias->num_elements == static_cast<int64_t>(N),
                         StatusCode::kInvalidModel, "bias '%s' must be f32 [%zu]", bias->name, N);
    EDGE_CHECK_OR_RETURN(bias->data != nullptr, StatusCode::kUnsupported,
                         "bias '%s' of a quantized linear must be a constant", bias->name);
    std::memcpy(s->bias, bias->data, N * sizeof(float));
  }
  s->scratch = QGemmScratchBytes(*s->kernel, M, K);
  guard.s = nullptr;
  *out = s;
  return Status::Ok();
}

size_t QuantLinearScratchBytes(const QuantLinearState* s) { return s->scratch; }
const char* QuantLinearKernelName(const QuantLinearState* s) { return s->kernel->name; }

void RunQuantLinear(const QuantLinearState* s, const float* x, float* y, void* scratch,
                    pthreadpool_t pool) {
  QGemmArgs a;
  a.M = s->M;
  a.N = s->N;
  a.K = s->K;
  a.w = s->w;
  a.w_scales = s->w_scales;
  a.w_scale = s->w_scale;
  a.w_corr = s->w_corr;
  a.bias = s->bias;
  a.tensor_half = s->tensor_half;
  a.y = y;
  a.ldy = s->N;
  QGemmRun(*s->kernel, x, s->K, a, scratch, pool);
  f32_activation_parallel(s->act_fn, s->M * s->N, y, s->activation, pool);
}

Status QuantizeInt8PerChannel(const float* w, size_t N, size_t K, int8_t* q, float* scale) {
  float unused;
  EDGE_CHECK_OR_RETURN(QuantFormatOf(QuantFormat::kQs8)
                           .quantize(w, N, K, reinterpret_cast<uint8_t*>(q), reinterpret_cast<uint8_t*>(scale), &unused),
                       StatusCode::kNumericError, "int8 quantization: weight has NaN or Inf");
  return Status::Ok();
}

Status QuantizeNvfp4(const float* w, size_t N, size_t K, uint8_t* codes, uint8_t* scales,
                     float* tensor_scale) {
  EDGE_CHECK_OR_RETURN(QuantFormatOf(QuantFormat::kNvfp4).quantize(w, N, K, codes, scales, tensor_scale),
                       StatusCode::kNumericError, "NVFP4 quantization: weight has NaN or Inf");
  return Status::Ok();
}

}  // namespace edge
