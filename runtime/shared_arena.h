// One activation arena for several sessions that never run at the same time:
// the graphs of one model (condition encoder, denoiser, decoder) run one
// after another, so the model needs the largest of their plans, not the sum.
#pragma once

#include <cstddef>
#include <cstdint>

#include "runtime/session.h"
#include "runtime/status.h"

namespace edge {

class SharedArena {
 public:
  SharedArena() = default;
  ~SharedArena();
  SharedArena(const SharedArena&) = delete;
  SharedArena& operator=(const SharedArena&) = delete;

  // Allocates max(arena_bytes()) of the sessions, each created with
  // SessionOptions::external_arena, and binds it to all of them. Once only.
  // `max_bytes` (0: no cap) refuses a larger arena before allocating it.
  Status Bind(Session* const* sessions, int count, size_t max_bytes);
  size_t bytes() const { return bytes_; }

 private:
  uint8_t* arena_ = nullptr;
  size_t bytes_ = 0;
};

}  // namespace edge
