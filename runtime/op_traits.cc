// The op traits table (op_traits.h). Rows are in fb::OpType order; the
// static_asserts below keep it complete and in that order when the schema
// grows. Each binding lives in a file of runtime/bindings/ and defines
// `const OpKernel kXxxKernel` with external linkage; the references here are
// strong, so linking the static runtime library always pulls in every binding.
#include "runtime/op_traits.h"

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

namespace {

using T = fb::OpType;
using O = fb::OpOptions;
using D = OpDTypes;
constexpr int kN = kMaxOpArity;

constexpr OpTraits kOpTraits[] = {
    // type                  in       out     options                      dtypes           binding
    {T::Linear,              2, 3,    1, 1,   O::LinearOptions,            D::kF32WeightAt1, &kLinearKernel},
    {T::MatMul,              2, 2,    1, 1,   O::MatMulOptions,            D::kF32,          &kMatMulKernel},
    {T::LayerNorm,           1, 3,    1, 1,   O::NormOptions,              D::kF32,          &kLayerNormKernel},
    {T::RMSNorm,             1, 2,    1, 1,   O::NormOptions,              D::kF32,          &kRMSNormKernel},
    {T::Modulate,            3, 3,    1, 1,   O::NONE,                     D::kF32,          &kModulateKernel},
    {T::GatedResidual,       3, 3,    1, 1,   O::NONE,                     D::kF32,          &kGatedResidualKernel},
    {T::Gelu,                1, 1,    1, 1,   O::GeluOptions,              D::kF32,          &kGeluKernel},
    {T::SiLU,                1, 1,    1, 1,   O::NONE,                     D::kF32,          &kSiLUKernel},
    {T::Softmax,             1, 1,    1, 1,   O::AxisOptions,              D::kF32,          &kSoftmaxKernel},
    {T::Add,                 2, 2,    1, 1,   O::NONE,                     D::kF32,          &kAddKernel},
    {T::Sub,                 2, 2,    1, 1,   O::NONE,                     D::kF32,          &kSubKernel},
    {T::Mul,                 2, 2,    1, 1,   O::NONE,                     D::kF32,          &kMulKernel},
    {T::Div,                 2, 2,    1, 1,   O::NONE,                     D::kF32,          &kDivKernel},
    {T::Reshape,             1, 1,    1, 1,   O::NONE,                     D::kSameAsInput0, &kReshapeKernel},
    {T::Transpose,           1, 1,    1, 1,   O::TransposeOptions,         D::kSameAsInput0, &kTransposeKernel},
    {T::Concat,              1, kN,   1, 1,   O::AxisOptions,              D::kSameAsInput0, &kConcatKernel},
    {T::Split,               1, 1,    1, kN,  O::AxisOptions,              D::kSameAsInput0, &kSplitKernel},
    {T::Slice,               1, 1,    1, 1,   O::SliceOptions,             D::kSameAsInput0, &kSliceKernel},
    {T::Conv2d,              2, 3,    1, 1,   O::ConvOptions,              D::kF32ConvWeightAt1, &kConv2dKernel},
    {T::TimestepEmbedding,   1, 1,    1, 1,   O::TimestepEmbeddingOptions, D::kF32,          &kTimestepEmbeddingKernel},
    {T::Embedding,           2, 2,    1, 1,   O::NONE,                     D::kF32IdsAt0,    &kEmbeddingKernel},
    {T::Attention,           3, 3,    1, 1,   O::AttentionOptions,         D::kF32,          &kAttentionKernel},
    {T::RoPE,                3, 3,    1, 1,   O::RopeOptions,              D::kF32,          &kRoPEKernel},
    {T::Unary,               1, 1,    1, 1,   O::UnaryOptions,             D::kF32,          &kUnaryKernel},
    {T::Copy,                1, 1,    1, 1,   O::NONE,                     D::kSameAsInput0, &kCopyKernel},
    {T::GroupNorm,           1, 3,    1, 1,   O::GroupNormOptions,         D::kF32,          &kGroupNormKernel},
    {T::Upsample,            1, 1,    1, 1,   O::NONE,                     D::kF32,          &kUpsampleKernel},
};

constexpr size_t kNumOpTypes = static_cast<size_t>(T::MAX) + 1;
static_assert(sizeof(kOpTraits) / sizeof(kOpTraits[0]) == kNumOpTypes,
              "one op traits row per fb::OpType");

constexpr bool RowsInOpTypeOrder() {
  for (size_t i = 0; i < kNumOpTypes; ++i)
    if (static_cast<size_t>(kOpTraits[i].type) != i) return false;
  return true;
}
static_assert(RowsInOpTypeOrder(), "op traits rows follow fb::OpType order");

}  // namespace

const OpTraits* FindOpTraits(fb::OpType type) {
  const size_t i = static_cast<size_t>(type);
  return i < kNumOpTypes ? &kOpTraits[i] : nullptr;
}

const OpKernel* GetOpKernel(fb::OpType type) {
  const OpTraits* t = FindOpTraits(type);
  return t != nullptr ? t->kernel : nullptr;
}

}  // namespace edge
