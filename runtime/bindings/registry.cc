// Maps op types to their kernel bindings. Each binding lives in a file of this
// folder and defines `const OpKernel kXxxKernel` with external linkage. The
// references here are strong, so linking the static runtime library always
// pulls in every binding.
#include "runtime/kernel.h"

namespace edge {

#define EDGE_KERNEL(name) extern const OpKernel name;
EDGE_KERNEL(kLinearKernel)
EDGE_KERNEL(kMatMulKernel)
EDGE_KERNEL(kLayerNormKernel)
EDGE_KERNEL(kRMSNormKernel)
EDGE_KERNEL(kModulateKernel)
EDGE_KERNEL(kGatedResidualKernel)
EDGE_KERNEL(kGeluKernel)
EDGE_KERNEL(kSiLUKernel)
EDGE_KERNEL(kSoftmaxKernel)
EDGE_KERNEL(kAddKernel)
EDGE_KERNEL(kSubKernel)
EDGE_KERNEL(kMulKernel)
EDGE_KERNEL(kDivKernel)
EDGE_KERNEL(kReshapeKernel)
EDGE_KERNEL(kTransposeKernel)
EDGE_KERNEL(kConcatKernel)
EDGE_KERNEL(kSplitKernel)
EDGE_KERNEL(kSliceKernel)
EDGE_KERNEL(kConv2dKernel)
EDGE_KERNEL(kTimestepEmbeddingKernel)
EDGE_KERNEL(kEmbeddingKernel)
EDGE_KERNEL(kAttentionKernel)
EDGE_KERNEL(kRoPEKernel)
EDGE_KERNEL(kUnaryKernel)
EDGE_KERNEL(kCopyKernel)
EDGE_KERNEL(kGroupNormKernel)
EDGE_KERNEL(kUpsampleKernel)
#undef EDGE_KERNEL

const OpKernel* GetOpKernel(fb::OpType type) {
  switch (type) {
    case fb::OpType::Linear: return &kLinearKernel;
    case fb::OpType::MatMul: return &kMatMulKernel;
    case fb::OpType::LayerNorm: return &kLayerNormKernel;
    case fb::OpType::RMSNorm: return &kRMSNormKernel;
    case fb::OpType::Modulate: return &kModulateKernel;
    case fb::OpType::GatedResidual: return &kGatedResidualKernel;
    case fb::OpType::Gelu: return &kGeluKernel;
    case fb::OpType::SiLU: return &kSiLUKernel;
    case fb::OpType::Softmax: return &kSoftmaxKernel;
    case fb::OpType::Add: return &kAddKernel;
    case fb::OpType::Sub: return &kSubKernel;
    case fb::OpType::Mul: return &kMulKernel;
    case fb::OpType::Div: return &kDivKernel;
    case fb::OpType::Reshape: return &kReshapeKernel;
    case fb::OpType::Transpose: return &kTransposeKernel;
    case fb::OpType::Concat: return &kConcatKernel;
    case fb::OpType::Split: return &kSplitKernel;
    case fb::OpType::Slice: return &kSliceKernel;
    case fb::OpType::Conv2d: return &kConv2dKernel;
    case fb::OpType::TimestepEmbedding: return &kTimestepEmbeddingKernel;
    case fb::OpType::Embedding: return &kEmbeddingKernel;
    case fb::OpType::Attention: return &kAttentionKernel;
    case fb::OpType::RoPE: return &kRoPEKernel;
    case fb::OpType::Unary: return &kUnaryKernel;
    case fb::OpType::Copy: return &kCopyKernel;
    case fb::OpType::GroupNorm: return &kGroupNormKernel;
    case fb::OpType::Upsample: return &kUpsampleKernel;
  }
  return nullptr;
}

}  // namespace edge
