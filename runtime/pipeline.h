// The diffusion pipeline: drives a Session through the sampler stored in the
// model, once per step, with classifier-free guidance and seeded noise.
//
// Batching: the graph has a fixed batch B (its latent input's first dim).
// With guidance on and an even B, each run carries B/2 samples: rows [0, n)
// are conditional, rows [n, 2n) the same latents with the null condition.
// With guidance on and an odd B, the graph runs twice per step. With
// guidance off, each run carries B samples. With guidance reuse on (see
// guidance_reuse.h), cond and uncond always run as separate calls of B
// samples each, so that the unconditional call can be left out.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "runtime/array.h"
#include "runtime/delta_cache.h"
#include "runtime/guidance_reuse.h"
#include "runtime/sampler.h"
#include "runtime/session.h"

namespace edge {

struct GenerateOptions {
  int steps = 0;                 // 0: the model's default
  uint64_t seed = 0;
  float guidance = -1.f;         // < 0: the model's default; 1: off
  int num_samples = 1;
  std::vector<int64_t> classes;  // one per sample (class-conditional models); empty: 0,1,2,...
  // Embedding-conditioned models (an F32 condition input, e.g. text-encoder
  // hidden states): num_samples * condition_elements() floats, one
  // embedding per sample. Guidance uses the model's stored null embedding.
  const float* condition = nullptr;
  const float* noise = nullptr;  // optional initial noise, num_samples * latent_elements()
  CacheOptions cache;            // step cache (threshold 0: off); see delta_cache.h
  // interval <= 1: off; -1: the model's stored default; see guidance_reuse.h
  GuidanceReuseOptions guidance_reuse;
  // Called after every step of every chunk (may be null).
  void (*on_step)(void* user, int chunk, int num_chunks, int step, int steps, double ms) = nullptr;
  void* user = nullptr;
};

struct GenerateStats {
  int graph_runs = 0;
  double total_ms = 0;
  int64_t blocks_computed = 0;  // cache regions run
  int64_t blocks_skipped = 0;   // cache regions reused from the delta cache
  size_t cache_bytes = 0;       // residual storage the cache planned
  CacheStats cache;             // per-step decisions (and probe signals)
  GuidanceReuseOptions guidance_reuse;  // as applied (interval 0: off)
  int uncond_runs = 0;          // unconditional graph calls made (guided, unpaired)
  int uncond_reused = 0;        // unconditional calls replaced by the guidance estimate
  Array<char> guidance_steps;  // per step: 'c' uncond computed, 'r' reused, '-' n/a
};

class Pipeline {
 public:
  static Result<std::unique_ptr<Pipeline>> Create(Session* session);

  const Array<int64_t>& latent_shape() const { return latent_shape_; }
  size_t latent_elements() const { return latent_elems_; }
  // Floats of one sample's condition embedding; 0 for class ids or none.
  size_t condition_elements() const { return cond_elems_; }
  // Samples one graph call carries (guidance reuse runs cond/uncond apart).
  int samples_per_run(bool guided, bool reuse = false) const;
  const GenerateStats& stats() const { return stats_; }

  // Writes num_samples * latent_elements() floats to `out`. What a
  // generation needs beyond Create (the schedule, the step cache, guidance
  // reuse, the stats) is allocated before the first step, fallibly: out of
  // memory is kOutOfMemory, never an abort.
  Status Generate(const GenerateOptions& options, float* out);

  // Valid inside GenerateOptions::on_step: the latents after that step of the
  // chunk being generated, chunk_samples() rows of latent_elements() floats,
  // the first row being sample chunk_first_sample(). Lets a caller record the
  // whole trajectory (edge-run --dump-trajectory) without a copy per step here.
  const float* step_latents() const { return x_.data(); }
  int chunk_first_sample() const { return chunk_first_; }
  int chunk_samples() const { return chunk_count_; }

 private:
  Pipeline() = default;
  Status RunGraph(DeltaCache* cache, int branch, int step, int steps);
  Status FillInputs(const float* x_rows, int rows, int x_stride_rows, const int64_t* conds,
                    float model_t);

  Session* session_ = nullptr;
  const fb::Pipeline* meta_ = nullptr;
  int latent_in_ = -1, timestep_in_ = -1, cond_in_ = -1, out_ = -1;
  int batch_ = 1;
  int chunk_first_ = 0, chunk_count_ = 0;  // the chunk Generate is on
  uint64_t generation_ = 0;  // counts chunks: kernels' step state resets when it changes
  Array<int64_t> latent_shape_;
  size_t latent_elems_ = 0;
  size_t out_elems_per_row_ = 0;  // model output per batch row (>= latent_elems_)
  GenerateStats stats_;
  Array<float> x_, cond_pred_, uncond_pred_, row_buf_;  // Arrays: see array.h
  GuidanceReuse reuse_;
  Array<int64_t> cond_ids_;        // per batch row: class id, or (embeddings) sample index / -1 for null
  size_t cond_elems_ = 0;          // embedding-conditioned: floats per sample
  const float* null_embedding_ = nullptr;
  const float* cond_src_ = nullptr;  // GenerateOptions::condition of the running generation
};

}  // namespace edge
