#include "runtime/shared_arena.h"

#include <sys/mman.h>

#include <cstdlib>
#include <cstring>

namespace edge {

SharedArena::~SharedArena() { std::free(arena_); }

Status SharedArena::Bind(Session* const* sessions, int count, size_t max_bytes) {
  EDGE_CHECK_OR_RETURN(arena_ == nullptr && bytes_ == 0, StatusCode::kInvalidArgument,
                       "shared arena: already bound");
  EDGE_CHECK_OR_RETURN(sessions != nullptr && count > 0, StatusCode::kInvalidArgument, "shared arena: no sessions");
  size_t need = 0;
  for (int i = 0; i < count; ++i) {
    EDGE_CHECK_OR_RETURN(sessions[i] != nullptr && sessions[i]->options().external_arena,
                         StatusCode::kInvalidArgument, "shared arena: session %d was not created with external_arena", i);
    if (sessions[i]->arena_bytes() > need) need = sessions[i]->arena_bytes();
  }
  EDGE_CHECK_OR_RETURN(max_bytes == 0 || need <= max_bytes, StatusCode::kOutOfMemory,
                       "the memory plan needs a %zu-byte arena, over the cap of %zu bytes", need, max_bytes);
  if (need > 0) {
    void* p = nullptr;
    if (posix_memalign(&p, kDataAlignment, need) != 0 || p == nullptr) {
      return Status::Error(StatusCode::kOutOfMemory, "cannot allocate a %zu-byte arena", need);
    }
    arena_ = static_cast<uint8_t*>(p);
#ifdef MADV_HUGEPAGE
    if (need >= (size_t(2) << 20)) madvise(arena_, need, MADV_HUGEPAGE);
#endif
    std::memset(arena_, 0, need);  // first touch outside the timed runs
  }
  bytes_ = need;
  for (int i = 0; i < count; ++i) EDGE_RETURN_IF_ERROR(sessions[i]->UseArena(arena_, need));
  return Status::Ok();
}

}  // namespace edge
