// Dynamic work split for kernels with per-thread scratch: `slots` workers
// (one per thread, each owning one slice of the scratch) claim units one at a
// time from a shared counter, so a thread the machine runs late (a busy core)
// takes fewer units instead of holding every other thread up at the end of
// the parallel call. The units' results must not depend on which slot ran
// them (each writes its own outputs), so the output is the same for any
// thread count or schedule.
#pragma once

#include <cstddef>

#include <pthreadpool.h>

namespace edge {

// Calls unit(ctx, slot, u) once for every u in [0, units), with slot in
// [0, min(slots, units)); a slot runs on one thread at a time, so
// slot-private scratch is safe. One parallel call: a hand-off between threads
// can cost a whole scheduler slice on a busy machine. Runs inline without a
// pool or with one slot.
void ForEachUnitInSlots(size_t units, size_t slots, void (*unit)(void* ctx, size_t slot, size_t u),
                        void* ctx, pthreadpool_t pool);

}  // namespace edge
