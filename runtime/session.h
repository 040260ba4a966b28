// Session: a Model prepared to run on this CPU.
//
// Create() picks each op's kernel, lets it check shapes and ask for scratch,
// plans one activation arena from tensor lifetimes (memory_planner.h), binds
// data pointers and allocates the arena once. Invoke() then runs the ops in
// order with no heap allocation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include <pthreadpool.h>

#include "runtime/array.h"
#include "runtime/kernel.h"
#include "runtime/kernel_settings.h"
#include "runtime/model.h"
#include "runtime/status.h"

namespace edge {

// The op-level knobs (precision, attention) are the KernelSettings the
// bindings see (runtime/kernel_settings.h); the rest configures the session.
struct SessionOptions : KernelSettings {
  int num_threads = 1;          // 0: one per big core (runtime/threading.h)
  bool pin_big_cores = false;   // restrict the pool's threads to the big cores
  bool profile = false;         // per-op wall time
  // Largest activation arena Create() may allocate, in bytes (0: no cap). A
  // model whose memory plan needs more is refused before anything is
  // allocated or run (kOutOfMemory).
  size_t max_arena_bytes = 0;
  // NaN/Inf at run time: Invoke() checks the graph's F32 outputs (and the
  // pipeline the latents after every step) and returns kNumericError naming
  // the first op that produced a non-finite value. Off by default (edge-run
  // turns it on); a clean run costs one read of the outputs.
  bool check_finite = false;
  // Create() plans the arena but does not allocate it: the caller binds one
  // with UseArena(). Sessions that never run at the same time (the graphs
  // of one model: condition encoder, denoiser, decoder) can so share one
  // arena of the largest plan. Graph inputs then keep their values only
  // until another session on the same arena runs.
  bool external_arena = false;
};

struct OpProfile {
  double total_ms = 0;
  int64_t calls = 0;
};

class Session {
 public:
  static Result<std::unique_ptr<Session>> Create(const Model* model, const SessionOptions& options);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  const Model& model() const { return *model_; }
  const SessionOptions& options() const { return options_; }

  // Copy data into a graph input; `bytes` must equal the tensor's size.
  Status SetInput(int tensor, const void* data, size_t bytes);
  // Pointer to a tensor's data: constants (read-only) and arena tensors.
  // Only graph inputs/outputs and cache-region boundaries are guaranteed to
  // hold their value after Invoke(); other intermediates share memory.
  void* data(int tensor) const { return tensor_data_[tensor]; }

  // With SessionOptions::external_arena: binds `arena` (64-byte aligned, at
  // least arena_bytes() long, owned by the caller and outliving the
  // session). Once only; Invoke() before it is an error.
  Status UseArena(void* arena, size_t bytes);

  Status Invoke();
  // For a run whose result is not finite: runs the graph again, op by op, on
  // the inputs it still holds and returns kNumericError naming the first op
  // (or graph input) with a non-finite F32 value; `what` says where the
  // caller saw it. Always an error (one saying so if the rerun stays
  // finite). Allocates nothing; kernel state that carries over between
  // runs (cluster attention's k-means) advances as in any run.
  Status LocateNonFinite(const char* what);
  // Runs ops [first, last] only (the pipeline's cache uses it to run blocks).
  Status InvokeRange(int first_op, int last_op);
  // Tells stateful kernels where the next runs sit in a generation
  // (runtime/kernel.h); the pipeline calls it before each run.
  void SetRunContext(const RunContext& run) { run_ = run; }
  const RunContext& run_context() const { return run_; }

  const char* kernel_name(int op) const { return kernel_names_[op]; }
  const Array<OpProfile>& profile() const { return profile_; }
  void ResetProfile();

  // Memory plan figures (bytes).
  size_t arena_bytes() const { return arena_bytes_; }
  size_t sum_activation_bytes() const { return sum_activation_bytes_; }
  size_t peak_live_bytes() const { return peak_live_bytes_; }
  pthreadpool_t threadpool() const { return pool_; }

 private:
  Session() = default;
  Status Init();
  Status BindArena(uint8_t* arena);

  const Model* model_ = nullptr;
  SessionOptions options_;
  pthreadpool_t pool_ = nullptr;
  // Arrays, not vectors: building them may fail (kOutOfMemory), see array.h.
  Array<const OpKernel*> kernels_;
  Array<void*> states_;
  Array<size_t> scratch_bytes_;
  Array<void*> scratch_ptrs_;
  Array<const char*> kernel_names_;
  Array<void*> tensor_data_;
  Array<KernelEvalContext> eval_ctx_;
  Array<OpProfile> profile_;
  RunContext run_;
  uint8_t* arena_ = nullptr;        // bound arena (owned or the caller's)
  uint8_t* owned_arena_ = nullptr;
  Array<size_t> plan_offsets_;      // arena offset of each planned request
  Array<int> plan_tensor_;          // its tensor, or -(op + 1) for scratch
  size_t arena_bytes_ = 0;
  size_t sum_activation_bytes_ = 0;
  size_t peak_live_bytes_ = 0;
};

}  // namespace edge
