// Embedding lookups: sinusoidal timestep embeddings and table gathers.
#pragma once

#include <cstddef>
#include <cstdint>

#include <pthreadpool.h>

namespace edge {

struct TimestepEmbeddingParams {
  int dim = 0;                 // output width; an odd dim gets a trailing 0
  float max_period = 10000.f;
  bool cos_first = true;       // [cos, sin] (DiT) or [sin, cos]
  float downscale_freq_shift = 0.f;
  float scale = 1.f;           // applied to t before the embedding
};

// out[b, :] for t[b], b < batch (out is [batch, dim]). With half = dim / 2:
//   freq_i = exp(-ln(max_period) * i / (half - downscale_freq_shift))
//   arg_i  = (t * scale) * freq_i
// computed in double (arguments reach ~1000 rad, where float rounding of the
// argument alone would cost ~3e-5), then cos/sin rounded once to float.
void f32_timestep_embedding_ref(size_t batch, const float* t, const TimestepEmbeddingParams& p,
                                float* out);

// out[i, :] = table[ids[i], :] for i < n; table is [vocab, dim]. Every id is
// checked before its row is read; on an out-of-range id the function stops
// and returns false with *bad_id set (rows before it are already written).
bool f32_embedding_i32(size_t n, const int32_t* ids, const float* table, int64_t vocab,
                       size_t dim, float* out, int64_t* bad_id);
bool f32_embedding_i64(size_t n, const int64_t* ids, const float* table, int64_t vocab,
                       size_t dim, float* out, int64_t* bad_id);

}  // namespace edge
