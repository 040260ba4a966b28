#include "runtime/memory_planner.h"

#include <algorithm>
#include <cstring>
#include <numeric>

namespace edge {
namespace {

size_t AlignUp(size_t v, size_t a) { return (v + a - 1) / a * a; }

bool Overlaps(const PlanRequest& a, const PlanRequest& b) {
  return a.first <= b.last && b.first <= a.last;
}

}  // namespace

Result<MemoryPlan> PlanMemory(const PlanRequest* requests, size_t n, size_t alignment) {
  MemoryPlan plan;
  EDGE_CHECK_OR_RETURN(requests != nullptr || n == 0, StatusCode::kInvalidArgument,
                       "memory plan: null requests");
  EDGE_CHECK_OR_RETURN(plan.offsets.Reset(n), StatusCode::kOutOfMemory,
                       "memory plan: out of memory for %zu offsets", n);

  int max_op = 0;
  for (size_t i = 0; i < n; ++i) {
    const PlanRequest& r = requests[i];
    EDGE_CHECK_OR_RETURN(r.first <= r.last && r.first >= -1, StatusCode::kInternal,
                         "memory plan: bad interval [%d, %d]", r.first, r.last);
    EDGE_CHECK_OR_RETURN(r.bytes <= (SIZE_MAX >> 2), StatusCode::kOutOfMemory,
                         "memory plan: buffer of %zu bytes is too large", r.bytes);
    plan.sum_bytes += AlignUp(r.bytes, alignment);
    max_op = std::max(max_op, r.last);
  }

  // Peak live set: sweep over op indices (intervals start at -1 for inputs).
  Array<size_t> live;
  EDGE_CHECK_OR_RETURN(live.Reset(static_cast<size_t>(max_op) + 2), StatusCode::kOutOfMemory,
                       "memory plan: out of memory for the live set");
  for (size_t i = 0; i < n; ++i) {
    const PlanRequest& r = requests[i];
    for (int t = r.first; t <= r.last; ++t) live[static_cast<size_t>(t + 1)] += AlignUp(r.bytes, alignment);
  }
  for (size_t v : live) plan.peak_live_bytes = std::max(plan.peak_live_bytes, v);

  // Largest first; ties broken by earlier start, then index, so plans are
  // deterministic. (std::sort with the index as last key: a stable sort
  // would allocate a buffer of its own.)
  Array<size_t> order;
  Array<size_t> placed;  // indices already placed, sorted by offset
  EDGE_CHECK_OR_RETURN(order.Reset(n) && placed.Reset(n), StatusCode::kOutOfMemory,
                       "memory plan: out of memory for %zu requests", n);
  std::iota(order.begin(), order.end(), size_t(0));
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (requests[a].bytes != requests[b].bytes) return requests[a].bytes > requests[b].bytes;
    if (requests[a].first != requests[b].first) return requests[a].first < requests[b].first;
    return a < b;
  });

  size_t num_placed = 0;
  for (size_t idx : order) {
    const PlanRequest& r = requests[idx];
    if (r.bytes == 0) continue;  // empty tensors need no memory (offset 0)
    const size_t size = AlignUp(r.bytes, alignment);
    // Walk placed buffers in offset order; take the smallest gap that fits
    // among those that conflict in time (best fit), else the end.
    size_t best_offset = SIZE_MAX, best_gap = SIZE_MAX;
    size_t cursor = 0;
    for (size_t q = 0; q < num_placed; ++q) {
      const size_t p = placed[q];
      if (!Overlaps(r, requests[p])) continue;
      const size_t p_off = plan.offsets[p];
      const size_t p_end = p_off + AlignUp(requests[p].bytes, alignment);
      if (p_off >= cursor) {
        const size_t gap = p_off - cursor;
        if (gap >= size && gap < best_gap) {
          best_gap = gap;
          best_offset = cursor;
        }
      }
      cursor = std::max(cursor, p_end);
    }
    if (best_offset == SIZE_MAX) best_offset = cursor;
    plan.offsets[idx] = best_offset;
    plan.arena_bytes = std::max(plan.arena_bytes, best_offset + size);
    // Keep `placed` sorted by offset.
    size_t* pos = std::lower_bound(placed.begin(), placed.begin() + num_placed, best_offset,
                                   [&](size_t p, size_t off) { return plan.offsets[p] < off; });
    std::memmove(pos + 1, pos, static_cast<size_t>(placed.begin() + num_placed - pos) * sizeof(size_t));
    *pos = idx;
    ++num_placed;
  }
  return plan;
}

}  // namespace edge
