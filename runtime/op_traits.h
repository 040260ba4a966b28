// What the runtime knows about each op type, one row per fb::OpType: how many
// inputs and outputs it takes, which option table, which dtypes, and the
// binding that runs it. The validator (model_validate.cc), the session (through
// GetOpKernel) and the model writer all read this table, so a new op type
// is described here once instead of in a switch of each.
#pragma once

#include <cstdint>

#include "ops/f32_activation.h"
#include "runtime/kernel.h"

namespace edge {

// Concat/Split are the only variadic ops; no real graph comes near this.
constexpr int kMaxOpArity = 4096;

// The dtypes an op's tensors may have (constants included: they are not
// retyped at run time). Quantized tensors are only ever a Linear weight
// (kF32WeightAt1, Linear's input 1, packed layouts included) or a Conv2d
// weight (kF32ConvWeightAt1: INT8 row-major only).
enum class OpDTypes : uint8_t {
  kF32,           // every input and output plain F32
  kSameAsInput0,  // moves or reinterprets data: any unquantized dtype, that of input 0 everywhere
  kF32WeightAt1,  // kF32, but input 1 is a weight [N, K] in any weight format (ops/quant_format.h)
  kF32IdsAt0,     // kF32, but input 0 holds I32 or I64 ids
  kF32ConvWeightAt1,  // kF32, but input 1 is a weight [O, C/groups, kh, kw], F32 or
                      // Int8PerChannel, row-major (edge-convert --conv-precision int8)
};

struct OpTraits {
  fb::OpType type;
  int min_in, max_in;     // input count; the first min_in inputs must be present
  int min_out, max_out;   // output count (outputs are never absent)
  // The option table the op takes (NONE: it takes none). When the op has
  // one it must be present even with every field at its default (the
  // writer always emits it), so bindings read options without null checks.
  fb::OpOptions options;
  OpDTypes dtypes;
  const OpKernel* kernel;  // the binding in runtime/bindings/
};

// The row of `type`; null for a value outside the schema's OpType.
const OpTraits* FindOpTraits(fb::OpType type);

// The Unary op's kinds are ops/f32_activation.h's unary functions from
// kSigmoid on, in the same order: UnaryKind k runs F32Unary kSigmoid + k, so a
// new kind needs no mapping of its own. The rows before kSigmoid (the GELUs,
// SiLU) have op types of their own.
constexpr int kFirstUnaryKindRow = static_cast<int>(F32Unary::kSigmoid);
static_assert(static_cast<int>(F32Unary::kCount) - kFirstUnaryKindRow ==
                  static_cast<int>(fb::UnaryKind::MAX) + 1,
              "F32Unary lists every UnaryKind after kSilu");
static_assert(static_cast<int>(F32Unary::kReciprocal) - kFirstUnaryKindRow ==
                  static_cast<int>(fb::UnaryKind::Reciprocal),
              "F32Unary follows UnaryKind's order");

// The function that Unary of `kind` computes (kind <= UnaryKind::MAX).
inline F32Unary F32UnaryOfKind(fb::UnaryKind kind) {
  return static_cast<F32Unary>(kFirstUnaryKindRow + static_cast<int>(kind));
}

// The Unary kind that computes `f`; false where Unary has none (before kSigmoid).
inline bool UnaryKindOfF32(F32Unary f, fb::UnaryKind* kind) {
  if (static_cast<int>(f) < kFirstUnaryKindRow || f >= F32Unary::kCount) return false;
  *kind = static_cast<fb::UnaryKind>(static_cast<int>(f) - kFirstUnaryKindRow);
  return true;
}

}  // namespace edge
