#include "ops/slot_units.h"

#include <atomic>

namespace edge {

namespace {

struct UnitQueue {
  void (*unit)(void*, size_t, size_t);
  void* ctx;
  size_t units;
  std::atomic<size_t> next{0};
};

void RunSlot(void* q, size_t slot) {
  UnitQueue& r = *static_cast<UnitQueue*>(q);
  for (size_t u = r.next.fetch_add(1); u < r.units; u = r.next.fetch_add(1)) r.unit(r.ctx, slot, u);
}

}  // namespace

void ForEachUnitInSlots(size_t units, size_t slots, void (*unit)(void* ctx, size_t slot, size_t u),
                        void* ctx, pthreadpool_t pool) {
  UnitQueue q;
  q.unit = unit;
  q.ctx = ctx;
  q.units = units;
  if (slots > units) slots = units;
  if (pool != nullptr && slots > 1) {
    pthreadpool_parallelize_1d(pool, RunSlot, &q, slots, 0);
  } else {
    RunSlot(&q, 0);
  }
}

}  // namespace edge
