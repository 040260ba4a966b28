// The quantized Linear layer, public for the converter's calibrator and for
// tools: y[.., N] = act(x[.., K] * W^T + bias) with W int8
// (QuantScheme::Int8PerChannel, dtype I8) or NVFP4 (dtype NVFP4), FP32 x and
// y, without a Model or a Session. The Linear binding (bindings/linear.cc)
// runs its quantized weights through it, so the calibrator measures what
// Linear ships, activation included.
//
// Weights may be RowMajor (packed into the state at prepare) or already in
// the kernels' layout (WeightLayout::PackedInt8N16K4 / PackedNvfp4N16K64,
// see ops/quant_format.h), used in place. Activations are quantized per token
// at run time into the scratch memory requested at prepare.
#pragma once

#include <cstddef>
#include <cstdint>

#include <pthreadpool.h>

#include "ops/kernel_config.h"
#include "ops/quant_gemm.h"
#include "runtime/model.h"
#include "runtime/status.h"

namespace edge {

struct QuantLinearState;
// M = rows of x (product of its leading dims). bias may be null (or must be a
// constant F32 [N]). On success *out owns everything it needs beyond the
// weight/scale bytes, which must outlive it. `kernels` gives the GEMM
// variant and the fused activation (kernel_config() for this CPU).
Status CreateQuantLinear(const TensorInfo& w, const TensorInfo* bias, size_t M,
                         fb::Activation activation, const KernelConfig& kernels,
                         QuantLinearState** out);
size_t QuantLinearScratchBytes(const QuantLinearState* s);
const char* QuantLinearKernelName(const QuantLinearState* s);
// x: [M, K] f32, y: [M, N] f32, scratch: QuantLinearScratchBytes, 64-byte aligned.
void RunQuantLinear(const QuantLinearState* s, const float* x, float* y, void* scratch,
                    pthreadpool_t pool);
void DestroyQuantLinear(QuantLinearState* s);

// Weight quantization (Status wrappers of the ops/quant_format.h rows), for
// the converter, the tests and the Linear binding's precision override.
// NaN or Inf in w -> kNumericError.
Status QuantizeInt8PerChannel(const float* w, size_t N, size_t K, int8_t* q, float* scale);
Status QuantizeNvfp4(const float* w, size_t N, size_t K, uint8_t* codes, uint8_t* scales,
                     float* tensor_scale);

}  // namespace edge
