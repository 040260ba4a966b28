// Add / Sub / Mul / Div on F32 with numpy (ONNX) broadcasting.
//
// Two layers: a contiguous kernel f32_vbinary_* (each operand either a vector
// or one broadcast scalar), and a broadcast plan that collapses the shapes to
// as few dimensions as possible and calls the kernel once per innermost run.
// Same-shape, scalar-operand and [.., D] + [D] cases all collapse to one or
// two dimensions, so they need no special code beyond the plan.
#pragma once

#include <cstddef>
#include <cstdint>

#include <pthreadpool.h>

#include "ops/isa.h"

namespace edge {

enum class BinaryOp : int { kAdd = 0, kSub = 1, kMul = 2, kDiv = 3 };

// out[i] = a[a_scalar ? 0 : i] op b[b_scalar ? 0 : i] for i < n.
typedef void (*f32_vbinary_fn)(BinaryOp op, size_t n, const float* a, bool a_scalar,
                               const float* b, bool b_scalar, float* out);
void f32_vbinary_ref(BinaryOp op, size_t n, const float* a, bool a_scalar, const float* b,
                     bool b_scalar, float* out);
#if EDGE_ARCH_X86_64
void f32_vbinary__avx2(BinaryOp op, size_t n, const float* a, bool a_scalar, const float* b,
                       bool b_scalar, float* out);
void f32_vbinary__avx512(BinaryOp op, size_t n, const float* a, bool a_scalar, const float* b,
                         bool b_scalar, float* out);
#endif
#if EDGE_ARCH_ARM
void f32_vbinary__neon(BinaryOp op, size_t n, const float* a, bool a_scalar, const float* b,
                       bool b_scalar, float* out);
#endif

constexpr int kMaxBroadcastRank = 8;  // = kMaxRank of the model format

// Collapsed iteration space: out is contiguous with dims[]; a and b are read
// with element strides a_stride[] / b_stride[] (0 on broadcast axes). The
// innermost strides are 0 or 1.
struct BroadcastPlan {
  int rank = 0;
  int64_t dims[kMaxBroadcastRank] = {0};
  int64_t a_stride[kMaxBroadcastRank] = {0};
  int64_t b_stride[kMaxBroadcastRank] = {0};
  int64_t out_elements = 0;
};

// Output shape of broadcasting a with b (right-aligned; each pair of dims
// equal or one of them 1). Returns false if incompatible or rank > kMaxBroadcastRank.
bool BroadcastShape(const int64_t* a_dims, int a_rank, const int64_t* b_dims, int b_rank,
                    int64_t* out_dims, int* out_rank);
// Fills *plan; false if the shapes do not broadcast.
bool PlanBroadcast(const int64_t* a_dims, int a_rank, const int64_t* b_dims, int b_rank,
                   BroadcastPlan* plan);
// Runs the plan, parallel over outer indices when large.
void f32_binary_broadcast(const BroadcastPlan& plan, BinaryOp op, const float* a, const float* b,
                          float* out, f32_vbinary_fn kernel, pthreadpool_t pool);

}  // namespace edge
