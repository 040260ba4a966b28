// Batched F32 MatMul: c[.., M, N] = a[.., M, K] . b[.., K, N] (or b^T when
// b is [.., N, K] and transpose_b), with numpy broadcasting of the leading
// (batch) dims. Each output batch packs its b (once per distinct b) into
// scratch and runs the blocked GEMM of ops/f32_gemm.h.
#pragma once

#include <cstddef>

#include <pthreadpool.h>

#include "ops/f32_gemm.h"

namespace edge {

constexpr int kMatMulMaxBatchRank = 4;

struct F32MatMulDims {
  int batch_rank = 0;                         // leading dims, aligned to the output
  size_t out_batch[kMatMulMaxBatchRank] = {};
  size_t a_batch[kMatMulMaxBatchRank] = {};   // == out_batch or 1 (broadcast)
  size_t b_batch[kMatMulMaxBatchRank] = {};
  size_t m = 0, n = 0, k = 0;
  bool transpose_b = false;
};

// Floats of scratch f32_matmul needs (one packed b).
size_t f32_matmul_scratch_floats(const F32GemmConfig& cfg, const F32MatMulDims& d);

// `packed_b`: b already packed (only when every b batch dim is 1), else null
// and b is packed into `scratch` per distinct b batch.
void f32_matmul(const F32GemmConfig& cfg, const F32MatMulDims& d, const float* a, const float* b,
                const float* packed_b, float* c, float* scratch, pthreadpool_t pool);

void f32_matmul_ref(const F32MatMulDims& d, const float* a, const float* b, float* c);

}  // namespace edge
