// Token-level reuse in attention: between denoising steps the attention
// output of many query rows changes slowly, and rows that change slowly keep
// doing so for a few steps. So during a generation each (batch, head)
// recomputes only the query rows whose output is predicted to have moved,
// attending over the current keys and values; the other rows keep their
// cached output.
//
// Rule (per-row delta caching, as the step cache does per block): whenever a
// row is computed, its rate r_i = |o_i - o_cached_i|_2 / |o_cached_i|_2 per
// step since the cached row was computed is measured, and the row is cached.
// On a later step s the row is reused while r_i * (s - s_i) < threshold,
// with s_i the step it was computed at (steps the op did not run, under the
// step cache or guidance reuse, count too); at most max_stale reuses in a
// row. A row with no measured rate yet (it was computed only once) is
// recomputed. Row norms are summed in double in a fixed order: decisions are
// reproducible and independent of the thread count. Recomputed rows are
// gathered into a dense block and run on whichever attention kernel the
// caller passes (FP32 or INT8, dense), so each is what dense attention gives
// that row.
#pragma once

#include <cstddef>
#include <cstdint>

#include "ops/f32_attention.h"

namespace edge {

struct AttentionRowReuseConfig {
  float threshold = 0.f;  // > 0
  int max_stale = 2;      // reuses in a row before a forced recompute
};

// Per-branch state of one attention op, per (batch, head, query) row: its
// output at its last computation (and the one before), rate, step and reuse count.
struct AttentionRowReuseState {
  float* o_ref = nullptr;   // [B*H][nq][dh]
  float* o_prev = nullptr;  // order 1: the computation before, [B*H][nq][dh]
  float* rate = nullptr;    // [B*H][nq]; < 0: not measured yet
  int32_t* step = nullptr;  // [B*H][nq]: the step o_ref was computed at
  int32_t* gap = nullptr;   // [B*H][nq], order 1: steps between o_prev and o_ref (0: no o_prev)
  uint8_t* stale = nullptr; // [B*H][nq]: reuses since o_ref
  bool valid = false;       // false: nothing cached, the next run is full
};

// Bytes of one branch's state, and how to lay it out in `mem` (64-byte aligned).
// order 0 reuses a row's cached output; order 1 extrapolates it from the
// row's last two computations (twice the cached rows).
size_t attention_row_reuse_state_bytes(const F32AttentionParams& p, int order);
AttentionRowReuseState attention_row_reuse_state(const F32AttentionParams& p, int order, void* mem);
// Scratch for one run: a gathered query block, its output and the row list.
size_t attention_row_reuse_scratch_bytes(const F32AttentionParams& p);

// Runs attention of a dense problem `p` (F32AttentionParams without a sparse
// plan) at sampler step `step` through `attend`, which computes a dense
// sub-problem into its `out`.
// full: every row computed (warm-up steps, the last step, a new generation);
// the state is refreshed either way. Returns the number of query rows
// computed (of batch * heads * nq).
using AttentionFn = void (*)(const F32AttentionParams& p, void* user);
size_t attention_row_reuse_run(const F32AttentionParams& p, const AttentionRowReuseConfig& c, int step,
                               bool full, AttentionRowReuseState* st, void* scratch,
                               AttentionFn attend, void* user);

}  // namespace edge
