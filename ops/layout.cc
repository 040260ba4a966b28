// Strided copies (Transpose, Slice) and row-chunk copies (Concat, Split).
#include "ops/layout.h"

#include <cstring>

#include "ops/parallel.h"

namespace edge {

void PlanStridedCopy(int rank, const int64_t* dims, const int64_t* src_stride, int64_t src_offset,
                     size_t elem_size, StridedCopyPlan* plan) {
  StridedCopyPlan p;
  p.elem_size = elem_size;
  p.src_offset = src_offset;
  p.elements = 1;
  for (int i = 0; i < rank; ++i) p.elements *= dims[i];
  for (int i = 0; i < rank; ++i) {
    if (dims[i] == 1) continue;
    if (p.rank > 0 && p.src_stride[p.rank - 1] == src_stride[i] * dims[i]) {
      p.dims[p.rank - 1] *= dims[i];
      p.src_stride[p.rank - 1] = src_stride[i];
      continue;
    }
    p.dims[p.rank] = dims[i];
    p.src_stride[p.rank] = src_stride[i];
    ++p.rank;
  }
  if (p.rank == 0) {
    p.rank = 1;
    p.dims[0] = 1;
    p.src_stride[0] = 1;
  }
  *plan = p;
}

void PlanTranspose(int rank, const int64_t* in_dims, const int* perm, size_t elem_size,
                   StridedCopyPlan* plan) {
  int64_t in_stride[kMaxCopyRank];
  int64_t acc = 1;
  for (int i = rank - 1; i >= 0; --i) {
    in_stride[i] = acc;
    acc *= in_dims[i];
  }
  int64_t dims[kMaxCopyRank], stride[kMaxCopyRank];
  for (int i = 0; i < rank; ++i) {
    dims[i] = in_dims[perm[i]];
    stride[i] = in_stride[perm[i]];
  }
  PlanStridedCopy(rank, dims, stride, 0, elem_size, plan);
}

void PlanSlice(int rank, const int64_t* in_dims, const int64_t* starts, const int64_t* steps,
               const int64_t* out_dims, size_t elem_size, StridedCopyPlan* plan) {
  int64_t in_stride[kMaxCopyRank];
  int64_t acc = 1;
  for (int i = rank - 1; i >= 0; --i) {
    in_stride[i] = acc;
    acc *= in_dims[i];
  }
  int64_t stride[kMaxCopyRank];
  int64_t offset = 0;
  for (int i = 0; i < rank; ++i) {
    stride[i] = in_stride[i] * steps[i];
    offset += starts[i] * in_stride[i];
  }
  PlanStridedCopy(rank, out_dims, stride, offset, elem_size, plan);
}

namespace {

// Source offset (elements) of the start of outer row `row`, where the row
// index runs over dims[0 .. r) skipping axis `skip` (pass -1 to skip none).
inline int64_t OuterOffset(const StridedCopyPlan& p, int r, int skip, size_t row) {
  int64_t off = 0;
  for (int d = r - 1; d >= 0; --d) {
    if (d == skip) continue;
    const size_t dim = static_cast<size_t>(p.dims[d]);
    off += static_cast<int64_t>(row % dim) * p.src_stride[d];
    row /= dim;
  }
  return off;
}

template <class E>
void GatherRows(const StridedCopyPlan& p, const E* src, E* dst, pthreadpool_t pool) {
  const int r = p.rank;
  const size_t inner = static_cast<size_t>(p.dims[r - 1]);
  const int64_t s = p.src_stride[r - 1];
  const size_t rows = static_cast<size_t>(p.elements) / inner;
  ParallelFor(pool, rows, RowGrain(inner), [&](size_t r0, size_t r1) {
    for (size_t row = r0; row < r1; ++row) {
      const E* sp = src + p.src_offset + OuterOffset(p, r - 1, -1, row);
      E* dp = dst + row * inner;
      if (s == 1) {
        std::memcpy(dp, sp, inner * sizeof(E));
      } else {
        for (size_t i = 0; i < inner; ++i) dp[i] = sp[static_cast<int64_t>(i) * s];
      }
    }
  });
}

// Transposed pair: axis k has source stride 1 and the last axis has source
// stride s != 1. For each index of the other axes, copy the [K, L] block
// (dst row-major, dst stride of axis k = ld) in kTile x kTile tiles so that
// both the source lines and the destination lines stay in cache.
template <class E>
void TiledTranspose(const StridedCopyPlan& p, int k, const E* src, E* dst, pthreadpool_t pool) {
  constexpr size_t kTile = 32;
  const int r = p.rank;
  const size_t K = static_cast<size_t>(p.dims[k]);
  const size_t L = static_cast<size_t>(p.dims[r - 1]);
  const int64_t s = p.src_stride[r - 1];
  // Destination strides (elements) of axis k and of the outer axes.
  size_t dst_stride[kMaxCopyRank];
  size_t acc = 1;
  for (int d = r - 1; d >= 0; --d) {
    dst_stride[d] = acc;
    acc *= static_cast<size_t>(p.dims[d]);
  }
  const size_t ld = dst_stride[k];
  const size_t k_tiles = (K + kTile - 1) / kTile;
  const size_t outer = static_cast<size_t>(p.elements) / (K * L);
  ParallelFor(pool, outer * k_tiles, RowGrain(kTile * L), [&](size_t t0, size_t t1) {
    for (size_t t = t0; t < t1; ++t) {
      const size_t o = t / k_tiles;
      const size_t kb = (t % k_tiles) * kTile;
      const size_t ke = kb + kTile < K ? kb + kTile : K;
      // Offsets of outer index o over all axes except k and r-1.
      int64_t soff = p.src_offset;
      size_t doff = 0, rem = o;
      for (int d = r - 2; d >= 0; --d) {
        if (d == k) continue;
        const size_t dim = static_cast<size_t>(p.dims[d]);
        const size_t idx = rem % dim;
        rem /= dim;
        soff += static_cast<int64_t>(idx) * p.src_stride[d];
        doff += idx * dst_stride[d];
      }
      for (size_t lb = 0; lb < L; lb += kTile) {
        const size_t le = lb + kTile < L ? lb + kTile : L;
        for (size_t kk = kb; kk < ke; ++kk) {
          const E* sp = src + soff + static_cast<int64_t>(kk);
          E* dp = dst + doff + kk * ld;
          for (size_t l = lb; l < le; ++l) dp[l] = sp[static_cast<int64_t>(l) * s];
        }
      }
    }
  });
}

template <class E>
void Run(const StridedCopyPlan& p, const void* src, void* dst, pthreadpool_t pool) {
  const E* s = static_cast<const E*>(src);
  E* d = static_cast<E*>(dst);
  const int r = p.rank;
  if (p.src_stride[r - 1] != 1) {
    for (int k = r - 2; k >= 0; --k) {
      if (p.src_stride[k] == 1 && p.dims[k] >= 4) return TiledTranspose<E>(p, k, s, d, pool);
    }
  }
  GatherRows<E>(p, s, d, pool);
}

}  // namespace

void StridedCopy(const StridedCopyPlan& plan, const void* src, void* dst, pthreadpool_t pool) {
  if (plan.elements == 0) return;
  switch (plan.elem_size) {
    case 1: return Run<uint8_t>(plan, src, dst, pool);
    case 2: return Run<uint16_t>(plan, src, dst, pool);
    case 4: return Run<uint32_t>(plan, src, dst, pool);
    case 8: return Run<uint64_t>(plan, src, dst, pool);
    default: break;
  }
}

void ConcatRows(size_t outer, size_t count, const void* const* srcs, const size_t* chunk_bytes,
                size_t out_row_bytes, void* dst, pthreadpool_t pool) {
  ParallelFor(pool, outer, RowGrain(out_row_bytes / 4 + 1), [&](size_t r0, size_t r1) {
    for (size_t row = r0; row < r1; ++row) {
      uint8_t* dp = static_cast<uint8_t*>(dst) + row * out_row_bytes;
      for (size_t i = 0; i < count; ++i) {
        if (chunk_bytes[i] == 0) continue;
        std::memcpy(dp, static_cast<const uint8_t*>(srcs[i]) + row * chunk_bytes[i], chunk_bytes[i]);
        dp += chunk_bytes[i];
      }
    }
  });
}

void SplitRows(size_t outer, size_t count, const void* src, size_t in_row_bytes,
               void* const* dsts, const size_t* chunk_bytes, pthreadpool_t pool) {
  ParallelFor(pool, outer, RowGrain(in_row_bytes / 4 + 1), [&](size_t r0, size_t r1) {
    for (size_t row = r0; row < r1; ++row) {
      const uint8_t* sp = static_cast<const uint8_t*>(src) + row * in_row_bytes;
      for (size_t i = 0; i < count; ++i) {
        if (chunk_bytes[i] == 0) continue;
        std::memcpy(static_cast<uint8_t*>(dsts[i]) + row * chunk_bytes[i], sp, chunk_bytes[i]);
        sp += chunk_bytes[i];
      }
    }
  });
}

}  // namespace edge
