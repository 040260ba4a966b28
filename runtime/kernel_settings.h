// What the op bindings may read of the session's configuration: forced
// precision and the attention knobs. Session options extend it
// (runtime/session.h); a binding gets it through KernelPrepareContext and
// never sees the Session.
#pragma once

#include <cstdint>

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
  int replan = -1;            // plan on every N-th call, reuse it in between (1: every call)
  int dense_steps = -1;       // the op's first N evals (denoising steps) run dense
  // When set, each cluster-sparse plan adds its exact / total query-key
  // pairs here (measurement; not thread-safe across sessions).
  struct Stats {
    double exact_pairs = 0, total_pairs = 0;
    int64_t plans = 0;
  }* stats = nullptr;
};

// Token-level reuse in attention (ops/attention_row_reuse.h): during a
// generation, query rows whose query barely moved since they were last
// computed keep that output row instead of attending again.
struct TokenReuseOptions {
  // < 0: the model's (AttentionOptions.token_reuse, written by edge-convert
  // --token-reuse; 0 when absent); 0: off (bit-identical to no reuse).
  float threshold = -1.f;
  int warmup_steps = 2;   // steps computed in full at the start
  int max_stale = 2;      // a row is recomputed after this many reused steps
  int order = 1;          // 0: reuse the cached row; 1: extrapolate from its last two
  // When set, every eval adds its recomputed / total query rows here, per
  // step (arrays of `steps` entries owned by the caller; measurement).
  struct Stats {
    double* step_rows = nullptr;
    double* step_total = nullptr;
    int steps = 0;
    size_t state_bytes = 0;  // added at prepare: cached rows of every op
  }* stats = nullptr;
};

struct KernelSettings {
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
  TokenReuseOptions token_reuse;
};

}  // namespace edge
