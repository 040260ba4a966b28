// Scalar reference for the unary functions: double math per element, so the
// reference is correctly rounded to within a fraction of a float ulp.
#include <cmath>

#include "ops/f32_activation.h"
#include "ops/parallel.h"

namespace edge {

namespace {

#define EDGE_NAME(e, name, onnx, formula) name,
#define EDGE_KERNEL_NAMES(e, name, onnx, formula) \
  {"f32_" name "_ref", "f32_" name "__avx2", "f32_" name "__avx512", "f32_" name "__neon"},
const char* const kNames[] = {EDGE_F32_UNARY(EDGE_NAME)};
// Columns in F32Variant order.
const char* const kKernelNames[][4] = {EDGE_F32_UNARY(EDGE_KERNEL_NAMES)};
#undef EDGE_KERNEL_NAMES
#undef EDGE_NAME

bool Known(F32Unary kind) {
  return static_cast<int>(kind) >= 0 && kind < F32Unary::kCount;
}

}  // namespace

double F32UnaryEval(F32Unary kind, double x) {
  switch (kind) {
#define EDGE_CASE(e, name, onnx, formula) \
  case F32Unary::e:                       \
    return formula;
    EDGE_F32_UNARY(EDGE_CASE)
#undef EDGE_CASE
    case F32Unary::kCount: break;
  }
  return x;
}

const char* F32UnaryName(F32Unary kind) {
  return Known(kind) ? kNames[static_cast<int>(kind)] : "unknown";
}

const char* F32UnaryKernelName(F32Unary kind, F32Variant variant) {
  return Known(kind) ? kKernelNames[static_cast<int>(kind)][static_cast<int>(variant)] : "unknown";
}

void f32_vunary_ref(F32Unary kind, size_t n, const float* x, float* y, pthreadpool_t pool) {
  ParallelFor(pool, n, 4096, [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) y[i] = static_cast<float>(F32UnaryEval(kind, x[i]));
  });
}

}  // namespace edge
