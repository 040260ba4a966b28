// Bindings of the elementwise unary ops: Gelu (GeluOptions.approximate_tanh),
// SiLU, and Unary (UnaryOptions.kind). All run f32_vunary_* with a kind.
#include "ops/f32_activation.h"
#include "runtime/kernels/kernel_util.h"

namespace edge {
namespace {

using namespace kernel_util;

struct State {
  f32_vunary_fn fn = nullptr;
  F32Unary kind = F32Unary::kGelu;
  size_t n = 0;
};

// Kernel names per kind (F32Unary order) and variant (IsaLevel order, then
// NEON: ARM has no IsaLevel for it).
#define EDGE_NAMES(k) {"f32_" k "_ref", "f32_" k "__avx2", "f32_" k "__avx512", "f32_" k "__neon"}
constexpr int kNeonColumn = 3;
const char* const kNames[static_cast<int>(F32Unary::kCount)][4] = {
    EDGE_NAMES("gelu"), EDGE_NAMES("gelu_tanh"), EDGE_NAMES("silu"),  EDGE_NAMES("sigmoid"),
    EDGE_NAMES("tanh"), EDGE_NAMES("exp"),       EDGE_NAMES("neg"),   EDGE_NAMES("sqrt"),
    EDGE_NAMES("rsqrt"), EDGE_NAMES("abs"),      EDGE_NAMES("erf"),   EDGE_NAMES("reciprocal")};
#undef EDGE_NAMES

Status PrepareKind(KernelPrepareContext* ctx, F32Unary kind) {
  EDGE_RETURN_IF_ERROR(CheckArity(ctx, 1, 1, 1, 1, 1));
  const TensorInfo& x = In(ctx, 0);
  const TensorInfo& y = Out(ctx, 0);
  EDGE_RETURN_IF_ERROR(CheckDType(ctx, x, "input", fb::DType::F32));
  EDGE_RETURN_IF_ERROR(CheckDType(ctx, y, "output", fb::DType::F32));
  EDGE_RETURN_IF_ERROR(CheckSameShape(ctx, x, "input", y, "output"));
  State* s = nullptr;
  EDGE_RETURN_IF_ERROR(NewState(ctx, &s));
  s->kind = kind;
  s->n = static_cast<size_t>(x.num_elements);
  const IsaLevel isa = Isa(ctx);
  const char* unused = nullptr;
  EDGE_PICK_F32(isa, f32_vunary, &s->fn, &unused);
#if EDGE_ARCH_ARM
  const int column = s->fn == f32_vunary_ref ? 0 : kNeonColumn;
#else
  const int column = static_cast<int>(isa);
#endif
  ctx->kernel_name = kNames[static_cast<int>(kind)][column];
  return Status::Ok();
}

Status PrepareGelu(KernelPrepareContext* ctx) {
  const fb::GeluOptions* o = ctx->node->op != nullptr ? ctx->node->op->options_as_GeluOptions() : nullptr;
  return PrepareKind(ctx, o != nullptr && o->approximate_tanh() ? F32Unary::kGeluTanh : F32Unary::kGelu);
}

Status PrepareSilu(KernelPrepareContext* ctx) { return PrepareKind(ctx, F32Unary::kSilu); }

Status PrepareUnary(KernelPrepareContext* ctx) {
  const fb::UnaryOptions* o = ctx->node->op != nullptr ? ctx->node->op->options_as_UnaryOptions() : nullptr;
  if (o == nullptr) return Invalid(ctx, "missing UnaryOptions (the function kind)");
  switch (o->kind()) {
    case fb::UnaryKind::Sigmoid: return PrepareKind(ctx, F32Unary::kSigmoid);
    case fb::UnaryKind::Tanh: return PrepareKind(ctx, F32Unary::kTanh);
    case fb::UnaryKind::Exp: return PrepareKind(ctx, F32Unary::kExp);
    case fb::UnaryKind::Neg: return PrepareKind(ctx, F32Unary::kNeg);
    case fb::UnaryKind::Sqrt: return PrepareKind(ctx, F32Unary::kSqrt);
    case fb::UnaryKind::Rsqrt: return PrepareKind(ctx, F32Unary::kRsqrt);
    case fb::UnaryKind::Abs: return PrepareKind(ctx, F32Unary::kAbs);
    case fb::UnaryKind::Erf: return PrepareKind(ctx, F32Unary::kErf);
    case fb::UnaryKind::Reciprocal: return PrepareKind(ctx, F32Unary::kReciprocal);
  }
  return Invalid(ctx, "unknown unary kind %d", static_cast<int>(o->kind()));
}

Status Eval(KernelEvalContext* ctx) {
  const State* s = static_cast<const State*>(ctx->state);
  s->fn(s->kind, s->n, ctx->input<float>(0), ctx->output<float>(0), ctx->pool);
  return Status::Ok();
}

}  // namespace

extern const OpKernel kGeluKernel;
const OpKernel kGeluKernel = {PrepareGelu, nullptr, Eval, DeleteState<State>};
extern const OpKernel kSiLUKernel;
const OpKernel kSiLUKernel = {PrepareSilu, nullptr, Eval, DeleteState<State>};
extern const OpKernel kUnaryKernel;
const OpKernel kUnaryKernel = {PrepareUnary, nullptr, Eval, DeleteState<State>};

}  // namespace edge
