// Calls one F32 kernel once on n elements, for bench/arm_insn_count.sh (a
// directory of its own: bench/CMakeLists.txt globs bench/*.cc into edge-bench):
// that script counts the instructions qemu-user executes with and without the
// call ("none" as the variant), so the difference is the kernel's own cost.
// Usage: insn_count_driver OP ref|neon|none N
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "ops/f32_activation.h"
#include "ops/f32_binary.h"
#include "ops/f32_groupnorm.h"
#include "ops/f32_modulate.h"
#include "ops/f32_norm.h"
#include "ops/f32_softmax.h"

namespace edge {
namespace {

constexpr size_t kRow = 256;  // norm / softmax row length, modulate dim
constexpr size_t kGroupChannels = 32, kGroups = 8;

struct UnaryName {
  const char* name;
  F32Unary kind;
};
const UnaryName kUnary[] = {
    {"gelu", F32Unary::kGelu}, {"gelu_tanh", F32Unary::kGeluTanh}, {"silu", F32Unary::kSilu},
    {"sigmoid", F32Unary::kSigmoid}, {"tanh", F32Unary::kTanh}, {"exp", F32Unary::kExp},
    {"erf", F32Unary::kErf}, {"neg", F32Unary::kNeg}, {"abs", F32Unary::kAbs},
    {"sqrt", F32Unary::kSqrt}, {"rsqrt", F32Unary::kRsqrt}, {"reciprocal", F32Unary::kReciprocal}};
struct BinaryName {
  const char* name;
  BinaryOp op;
};
const BinaryName kBinary[] = {
    {"add", BinaryOp::kAdd}, {"sub", BinaryOp::kSub}, {"mul", BinaryOp::kMul}, {"div", BinaryOp::kDiv}};

#define EDGE_VARIANT(neon, base) ((neon) ? base##__neon : base##_ref)

// Returns false for an unknown op.
bool Run(const char* op, bool neon, size_t n, const float* a, const float* b, const float* c,
         float* y) {
  for (const UnaryName& u : kUnary) {
    if (std::strcmp(op, u.name) == 0) {
      EDGE_VARIANT(neon, f32_vunary)(u.kind, n, a, y, nullptr);
      return true;
    }
  }
  for (const BinaryName& o : kBinary) {
    if (std::strcmp(op, o.name) == 0) {
      EDGE_VARIANT(neon, f32_vbinary)(o.op, n, a, false, b, false, y);
      return true;
    }
  }
  const size_t rows = n / kRow;
  if (std::strcmp(op, "modulate") == 0) {
    EDGE_VARIANT(neon, f32_modulate)(1, rows, kRow, kRow, a, b, c, y, nullptr);
  } else if (std::strcmp(op, "gated_residual") == 0) {
    EDGE_VARIANT(neon, f32_gated_residual)(1, rows, kRow, kRow, a, b, c, y, nullptr);
  } else if (std::strcmp(op, "layernorm") == 0) {
    EDGE_VARIANT(neon, f32_layernorm)(rows, kRow, a, b, c, 1e-5f, y, nullptr);
  } else if (std::strcmp(op, "rmsnorm") == 0) {
    EDGE_VARIANT(neon, f32_rmsnorm)(rows, kRow, a, b, 1e-5f, y, nullptr);
  } else if (std::strcmp(op, "softmax") == 0) {
    EDGE_VARIANT(neon, f32_softmax)(rows, kRow, 1, a, y, nullptr);
  } else if (std::strcmp(op, "groupnorm") == 0 || std::strcmp(op, "groupnorm_silu") == 0) {
    F32GroupNormParams p;
    p.channels = kGroupChannels;
    p.groups = kGroups;
    p.spatial = n / kGroupChannels;
    p.silu = std::strcmp(op, "groupnorm_silu") == 0;
    EDGE_VARIANT(neon, f32_groupnorm)(p, a, b, c, y, nullptr);
  } else {
    return false;
  }
  return true;
}

}  // namespace
}  // namespace edge

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s OP ref|neon|none N\n", argv[0]);
    return 2;
  }
  const char* variant = argv[2];
  const size_t n = std::strtoul(argv[3], nullptr, 10);
  // Inputs in [-4, 4) and positive where sqrt / rsqrt / div need it (the
  // second operand), the same in every run.
  std::vector<float> a(n), b(n), c(n), y(n);
  for (size_t i = 0; i < n; ++i) {
    a[i] = static_cast<float>(i % 997) * (8.0f / 997) - 4.0f;
    if (a[i] == 0.f) a[i] = 0.5f;
    b[i] = 0.5f + static_cast<float>(i % 89) * (1.0f / 89);
    c[i] = static_cast<float>(i % 13) * (1.0f / 13) - 0.5f;
  }
  if (std::strcmp(argv[1], "sqrt") == 0 || std::strcmp(argv[1], "rsqrt") == 0) a.swap(b);
  if (std::strcmp(variant, "none") == 0) return 0;
  const bool neon = std::strcmp(variant, "neon") == 0;
  if (!neon && std::strcmp(variant, "ref") != 0) return 2;
  if (!edge::Run(argv[1], neon, n, a.data(), b.data(), c.data(), y.data())) {
    std::fprintf(stderr, "unknown op %s\n", argv[1]);
    return 2;
  }
  return y[n / 2] == 12345.f;  // keeps the result live
}
