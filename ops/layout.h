// Data movement for Transpose, Slice, Concat and Split. Type-agnostic: works
// on elements of 1, 2, 4 or 8 bytes and never looks at the values.
#pragma once

#include <cstddef>
#include <cstdint>

#include <pthreadpool.h>

namespace edge {

constexpr int kMaxCopyRank = 8;  // = kMaxRank of the model format

// dst[i0..ir] (contiguous, row-major over dims) = src[offset + sum_k i_k * src_stride[k]].
// Strides are in elements and may be negative (Slice with negative steps).
struct StridedCopyPlan {
  int rank = 0;
  size_t elem_size = 4;
  int64_t dims[kMaxCopyRank] = {0};
  int64_t src_stride[kMaxCopyRank] = {0};
  int64_t src_offset = 0;
  int64_t elements = 0;
};

// Collapses size-1 axes and merges axes whose source strides chain, so that
// e.g. a [0,2,1,3] transpose becomes rows of contiguous runs.
void PlanStridedCopy(int rank, const int64_t* dims, const int64_t* src_stride, int64_t src_offset,
                     size_t elem_size, StridedCopyPlan* plan);
// out[i] = in[perm[i]] axes. perm must be a permutation of [0, rank).
void PlanTranspose(int rank, const int64_t* in_dims, const int* perm, size_t elem_size,
                   StridedCopyPlan* plan);
// Output element (i_0..i_r) reads input (starts[k] + i_k * steps[k])_k. The
// caller has checked that every index read lies inside in_dims.
void PlanSlice(int rank, const int64_t* in_dims, const int64_t* starts, const int64_t* steps,
               const int64_t* out_dims, size_t elem_size, StridedCopyPlan* plan);

// Runs a plan: contiguous runs become memcpy; a transposed pair of axes is
// copied in cache-sized tiles; anything else is an element gather.
void StridedCopy(const StridedCopyPlan& plan, const void* src, void* dst, pthreadpool_t pool);

// Concat: for each of `outer` rows, output row = input 0 chunk | input 1 chunk | ...
// (chunk_bytes[i] bytes from srcs[i] + row * chunk_bytes[i]).
void ConcatRows(size_t outer, size_t count, const void* const* srcs, const size_t* chunk_bytes,
                size_t out_row_bytes, void* dst, pthreadpool_t pool);
// Split: the inverse of ConcatRows.
void SplitRows(size_t outer, size_t count, const void* src, size_t in_row_bytes,
               void* const* dsts, const size_t* chunk_bytes, pthreadpool_t pool);

}  // namespace edge
