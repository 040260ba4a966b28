// Plans every activation (and per-op scratch) into one arena.
//
// Each buffer lives over an interval of op indices [first, last]. Buffers are
// placed largest first, each at the lowest 64-byte aligned offset that does not
// overlap a placed buffer whose interval intersects its own ("greedy by size"
// with best-fit gaps, as TFLite's planner does). The arena is then at most the
// largest offset+size, usually within a few percent of the peak live set.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "runtime/array.h"
#include "runtime/status.h"

namespace edge {

struct PlanRequest {
  size_t bytes = 0;
  int first = 0;  // first op index at which the buffer must hold data
  int last = 0;   // last op index that reads it (inclusive)
};

struct MemoryPlan {
  Array<size_t> offsets;        // one per request
  size_t arena_bytes = 0;
  size_t peak_live_bytes = 0;   // largest sum of sizes alive at one op
  size_t sum_bytes = 0;         // sum of all request sizes (no reuse at all)
};

// kOutOfMemory when the planner's own tables cannot be allocated.
Result<MemoryPlan> PlanMemory(const PlanRequest* requests, size_t n, size_t alignment);
inline Result<MemoryPlan> PlanMemory(const std::vector<PlanRequest>& requests, size_t alignment) {
  return PlanMemory(requests.data(), requests.size(), alignment);
}

}  // namespace edge
