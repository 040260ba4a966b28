// ParallelFor: split [0, range) into tiles and run them on a pthreadpool.
//
// Elementwise kernels are memory bound; threads only pay off once a tile holds
// enough work to hide the hand-off (a few microseconds), so callers give a
// grain (the smallest tile worth a task) and small problems run inline.
#pragma once

#include <cstddef>

#include <pthreadpool.h>

namespace edge {

namespace parallel_detail {
template <class F>
void TileTrampoline(void* context, size_t start, size_t count) {
  (*static_cast<const F*>(context))(start, start + count);
}
}  // namespace parallel_detail

// Calls f(begin, end) over disjoint tiles covering [0, range). `grain` is the
// minimum tile; pool may be null (runs on the calling thread).
template <class F>
inline void ParallelFor(pthreadpool_t pool, size_t range, size_t grain, const F& f) {
  if (range == 0) return;
  if (grain == 0) grain = 1;
  const size_t threads = pool != nullptr ? pthreadpool_get_threads_count(pool) : 1;
  if (threads <= 1 || range <= grain) {
    f(size_t(0), range);
    return;
  }
  // About four tiles per thread balances uneven progress without making
  // tiles so small that scheduling dominates.
  size_t tile = (range + threads * 4 - 1) / (threads * 4);
  if (tile < grain) tile = grain;
  pthreadpool_parallelize_1d_tile_1d(pool, &parallel_detail::TileTrampoline<F>,
                                     const_cast<void*>(static_cast<const void*>(&f)), range,
                                     tile, 0);
}

// Rows per tile so that one tile touches at least ~16K elements.
inline size_t RowGrain(size_t cols) {
  const size_t kElementsPerTile = 16384;
  return cols >= kElementsPerTile ? 1 : kElementsPerTile / (cols == 0 ? 1 : cols);
}

}  // namespace edge
