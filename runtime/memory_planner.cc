#include "runtime/memory_planner.h"

#include <algorithm>
#include <numeric>

namespace edge {
namespace {

size_t AlignUp(size_t v, size_t a) { return (v + a - 1) / a * a; }

bool Overlaps(const PlanRequest& a, const PlanRequest& b) {
  return a.first <= b.last && b.first <= a.last;
}

}  // namespace

Result<MemoryPlan> PlanMemory(const std::vector<PlanRequest>& requests, size_t alignment) {
  MemoryPlan plan;
  const size_t n = requests.size();
  plan.offsets.assign(n, 0);

  int max_op = 0;
  for (const PlanRequest& r : requests) {
    EDGE_CHECK_OR_RETURN(r.first <= r.last && r.first >= -1, StatusCode::kInternal,
                         "memory plan: bad interval [%d, %d]", r.first, r.last);
    EDGE_CHECK_OR_RETURN(r.bytes <= (SIZE_MAX >> 2), StatusCode::kOutOfMemory,
                         "memory plan: buffer of %zu bytes is too large", r.bytes);
    plan.sum_bytes += AlignUp(r.bytes, alignment);
    max_op = std::max(max_op, r.last);
  }

  // Peak live set: sweep over op indices (intervals start at -1 for inputs).
  std::vector<size_t> live(static_cast<size_t>(max_op) + 2, 0);
  for (const PlanRequest& r : requests) {
    for (int t = r.first; t <= r.last; ++t) live[static_cast<size_t>(t + 1)] += AlignUp(r.bytes, alignment);
  }
  for (size_t v : live) plan.peak_live_bytes = std::max(plan.peak_live_bytes, v);

  // Largest first; ties broken by earlier start, then index, so plans are
  // deterministic.
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (requests[a].bytes != requests[b].bytes) return requests[a].bytes > requests[b].bytes;
    return requests[a].first < requests[b].first;
  });

  std::vector<size_t> placed;  // indices already placed, sorted by offset
  placed.reserve(n);
  for (size_t idx : order) {
    const PlanRequest& r = requests[idx];
    if (r.bytes == 0) continue;  // empty tensors need no memory (offset 0)
    const size_t size = AlignUp(r.bytes, alignment);
    // Walk placed buffers in offset order; take the smallest gap that fits
    // among those that conflict in time (best fit), else the end.
    size_t best_offset = SIZE_MAX, best_gap = SIZE_MAX;
    size_t cursor = 0;
    for (size_t p : placed) {
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
    auto pos = std::lower_bound(placed.begin(), placed.end(), best_offset,
                                [&](size_t p, size_t off) { return plan.offsets[p] < off; });
    placed.insert(pos, idx);
  }
  return plan;
}

}  // namespace edge
