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
#include <vector>

#include <pthreadpool.h>

#include "runtime/kernel.h"
#include "runtime/model.h"
#include "runtime/status.h"

namespace edge {

// Forced precision for quantizable layers (A/B comparisons).
enum class PrecisionOverride : int { kAsStored = 0, kFp32 = 1, kInt8 = 2, kNvfp4 = 3 };

// Run-time knobs of cluster-sparse attention; see ops/f32_attention_cluster.h.
struct AttentionSparseOptions {
  int mode = -1;              // -1: as stored; 0: off; 1: contiguous tiles; 2: clusters
  float top_p = -1.f;         // keep key clusters up to this cumulative mass
  float min_frac = -1.f;      // ...and at least this fraction of them (top-k)
  float err_tol = -1.f;       // error-aware extras until residual <= err_tol x value RMS (0: off)
  int cluster_tokens = 0;     // tokens per query cluster
  int k_cluster_tokens = 0;   // tokens per key cluster
  int kmeans_iters = -1;      // warm-started k-means iterations per call (0: reuse assignment)
  int refresh = -1;           // every N-th call re-runs the full iterations (0: never)
  int dense_steps = -1;       // the op's first N evals (denoising steps) run dense
  // When set, each cluster-sparse plan adds its exact / total query-key
  // pairs here (measurement; not thread-safe across sessions).
  struct Stats {
    double exact_pairs = 0, total_pairs = 0;
    int64_t plans = 0;
  }* stats = nullptr;
};

struct SessionOptions {
  int num_threads = 1;          // 0: one per big core (runtime/threading.h)
  bool pin_big_cores = false;   // restrict the pool's threads to the big cores
  bool profile = false;         // per-op wall time
  PrecisionOverride precision = PrecisionOverride::kAsStored;
  // Block-sparse attention: fraction of 64-key tiles each query block
  // computes exactly (< 0: as stored in the model; 0 or >= 1: dense).
  float attention_density = -1.f;
  // Skipped tiles enter the softmax through their centroids (mean key/value).
  bool attention_compensation = true;
  // Attention arithmetic: < 0 as stored in the model (AttentionOptions.
  // precision), else an AttentionPrecision value (ops/qs8_attention.h).
  int attention_precision = -1;
  // Sparse attention over semantic clusters (ops/f32_attention_cluster.h)
  // instead of tiles. Negative / zero values below mean "as stored in the
  // model, else the built-in default".
  AttentionSparseOptions attention_sparse;
  // Largest activation arena Create() may allocate, in bytes (0: no cap). A
  // model whose memory plan needs more is refused before anything is
  // allocated or run (kOutOfMemory).
  size_t max_arena_bytes = 0;
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

  Status Invoke();
  // Runs ops [first, last] only (the pipeline's cache uses it to run blocks).
  Status InvokeRange(int first_op, int last_op);

  const char* kernel_name(int op) const { return kernel_names_[op]; }
  const std::vector<OpProfile>& profile() const { return profile_; }
  void ResetProfile();

  // Memory plan figures (bytes).
  size_t arena_bytes() const { return arena_bytes_; }
  size_t sum_activation_bytes() const { return sum_activation_bytes_; }
  size_t peak_live_bytes() const { return peak_live_bytes_; }
  pthreadpool_t threadpool() const { return pool_; }

 private:
  Session() = default;
  Status Init();

  const Model* model_ = nullptr;
  SessionOptions options_;
  pthreadpool_t pool_ = nullptr;
  std::vector<const OpKernel*> kernels_;
  std::vector<void*> states_;
  std::vector<size_t> scratch_bytes_;
  std::vector<void*> scratch_ptrs_;
  std::vector<const char*> kernel_names_;
  std::vector<void*> tensor_data_;
  std::vector<KernelEvalContext> eval_ctx_;
  std::vector<OpProfile> profile_;
  uint8_t* arena_ = nullptr;
  size_t arena_bytes_ = 0;
  size_t sum_activation_bytes_ = 0;
  size_t peak_live_bytes_ = 0;
};

}  // namespace edge
