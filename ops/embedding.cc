// Timestep embedding and table lookup (scalar; both are tiny next to the
// transformer blocks that consume them).
#include "ops/embedding.h"

#include <cmath>
#include <cstring>

namespace edge {

void f32_timestep_embedding_ref(size_t batch, const float* t, const TimestepEmbeddingParams& p,
                                float* out) {
  const int dim = p.dim;
  const int half = dim / 2;
  const double denom = static_cast<double>(half) - static_cast<double>(p.downscale_freq_shift);
  const double log_period = std::log(static_cast<double>(p.max_period));
  for (size_t b = 0; b < batch; ++b) {
    const double tb = static_cast<double>(t[b]) * static_cast<double>(p.scale);
    float* o = out + b * static_cast<size_t>(dim);
    float* first = o;          // cos when cos_first
    float* second = o + half;  // sin when cos_first
    for (int i = 0; i < half; ++i) {
      const double arg = tb * std::exp(-log_period * static_cast<double>(i) / denom);
      const float c = static_cast<float>(std::cos(arg));
      const float s = static_cast<float>(std::sin(arg));
      first[i] = p.cos_first ? c : s;
      second[i] = p.cos_first ? s : c;
    }
    if (dim % 2 != 0) o[dim - 1] = 0.0f;
  }
}

namespace {

template <class I>
bool Gather(size_t n, const I* ids, const float* table, int64_t vocab, size_t dim, float* out,
            int64_t* bad_id) {
  for (size_t i = 0; i < n; ++i) {
    const int64_t id = static_cast<int64_t>(ids[i]);
    if (id < 0 || id >= vocab) {
      *bad_id = id;
      return false;
    }
    std::memcpy(out + i * dim, table + static_cast<size_t>(id) * dim, dim * sizeof(float));
  }
  return true;
}

}  // namespace

bool f32_embedding_i32(size_t n, const int32_t* ids, const float* table, int64_t vocab,
                       size_t dim, float* out, int64_t* bad_id) {
  return Gather(n, ids, table, vocab, dim, out, bad_id);
}

bool f32_embedding_i64(size_t n, const int64_t* ids, const float* table, int64_t vocab,
                       size_t dim, float* out, int64_t* bad_id) {
  return Gather(n, ids, table, vocab, dim, out, bad_id);
}

}  // namespace edge
